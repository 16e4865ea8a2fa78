type Doubles = ArrayLike<number>;
export declare function relDiff(a: number, b: number): number;
export declare function maxRelDiff(a: Doubles, b: Doubles, floor?: number): number;
export declare function maxAbsDiff(a: Doubles, b: Doubles): number;
export declare function bitDifferences(a: Float64Array, b: Float64Array): number;
export declare function covarianceError(g: Doubles, c: Doubles, n: number): { error: number; at: number };
export declare function covarianceClose(g: Doubles, c: Doubles, n: number, tol?: number): boolean;
