/** The monitoring/* routes (SEED.md "API Endpoints"; DESIGN.md "HTTP control API"). */
import type { RouteModule } from '../types.js';

export const monitoringRoutes: RouteModule = () => {};
