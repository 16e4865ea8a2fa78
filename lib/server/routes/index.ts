/** Every route group, registered by plugin.ts under the API prefix in this order. */
import type { RouteModule } from '../types.js';
import { cacheRoutes } from './cache.js';
import { gpuRoutes } from './gpu.js';
import { jobsRoutes } from './jobs.js';
import { latencyRoutes } from './latency.js';
import { memoryRoutes } from './memory.js';
import { monitoringRoutes } from './monitoring.js';
import { networkRoutes } from './network.js';
import { statusRoutes } from './status.js';
import { streamRoutes } from './stream.js';

export const kRouteModules: readonly RouteModule[] = [
  gpuRoutes,
  latencyRoutes,
  cacheRoutes,
  memoryRoutes,
  networkRoutes,
  monitoringRoutes,
  statusRoutes,
  jobsRoutes,
  streamRoutes,
];
