// The public API's async functions (lib/index.ts, through dist/ with
// ULTRA_PERF_BACKEND=native) under the same catalogue for their array inputs: detached,
// shrunk, shared, foreign and odd-offset arrays, and arrays detached or shrunk while the
// work runs. Each entry's inputs are the arrays; `call` puts them where the API takes them.

const seq = (n, f = (i) => Math.sin(i * 1.7 + 1) / 50) => Float64Array.from({ length: n }, (_, i) => f(i));
const eye = (n) => Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));

/** name -> [input names, () => inputs, (mod, ...inputs) => Promise] */
const table = {
  calculateVaR: [['returns'], () => [seq(500)], (m, r) => m.calculateVaR(r, { confidence: 0.95 })],
  portfolioVaR: [['returns', 'weights'], () => [seq(300), seq(3, () => 1 / 3)], (m, r, w) => m.portfolioVaR({ returns: r, assets: 3, weights: w })],
  correlationMatrix: [['data'], () => [seq(40)], (m, d) => m.correlationMatrix(d, { observations: 10, assets: 4 })],
  covarianceMatrix: [['data'], () => [seq(40)], (m, d) => m.covarianceMatrix(d, { observations: 10, assets: 4 })],
  cholesky: [['matrix'], () => [eye(4)], (m, a) => m.cholesky(a, 4)],
  simulateGBM: [[], () => [], (m) => m.simulateGBM({ spot: 100, drift: 0.05, volatility: 0.2, steps: 8, paths: 64, seed: 1 })],
  monteCarloVaR: [
    ['weights', 'means', 'covariance'],
    () => [seq(2, () => 0.5), seq(2, () => 0), eye(2).map((v) => v * 1e-4)],
    (m, w, mu, c) => m.monteCarloVaR({ weights: w, means: mu, covariance: c, paths: 256, seed: 1 }),
  ],
  replayIntoQueue: [
    ['data', 'lengths'],
    () => [new Uint8Array(64), Uint32Array.from([16, 16, 16, 16])],
    (m, data, lengths) => m.replayIntoQueue(m.SpscQueue.create({ capacity: 64, slotBytes: 32 }), { data, lengths }, { backend: 'native' }),
  ],
};

export const apiFunctionNames = Object.keys(table);

/** { spec, entry } for key "api.<name>", in the shape child.mjs runs. */
export function apiEntries(key) {
  const name = key.slice(4);
  const [inputs, make, call] = table[name];
  let mod;
  return {
    spec: { key, name: '__call', params: inputs.map((n) => ({ name: n, type: 'api:Array' })) },
    entry: {
      file: 'lib (public API, native backend)',
      async: true,
      valid: (ctx) => {
        mod = ctx.addon;
        return { args: make().map((a) => ctx.arena.copy(a)), this: { __call: (...xs) => call(mod, ...xs) } };
      },
    },
  };
}
