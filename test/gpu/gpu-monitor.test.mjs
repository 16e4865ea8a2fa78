// GpuMonitor on a real device (issue 15 item 7): NVML opened at run time by the CPU addon
// answers with plausible readings, agrees with nvidia-smi where that is installed, and its
// sampled utilization sees a kernel loop. Read-only: nothing here changes a device setting.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

import { lib } from './helpers.mjs';

const { GpuMonitor, gpu, registerPrometheus } = lib;
const monitor = new GpuMonitor();

test('NVML opens and sees the devices CUDA sees', () => {
  assert.equal(monitor.reason, undefined, `GpuMonitor unavailable: ${monitor.reason}`);
  assert.equal(monitor.available, true);
  assert.ok(monitor.deviceCount >= gpu.devices().length, `NVML sees ${monitor.deviceCount}, CUDA ${gpu.devices().length}`);
});

test('each reading is plausible and in the units its name says', () => {
  for (const r of monitor.readAll()) {
    assert.match(r.name, /\w/);
    assert.ok(r.utilizationPercent >= 0 && r.utilizationPercent <= 100, `utilization ${r.utilizationPercent}`);
    assert.ok(r.memoryTotalBytes > 2 ** 30, `memory total ${r.memoryTotalBytes}`);
    assert.ok(r.memoryUsedBytes >= 0 && r.memoryUsedBytes <= r.memoryTotalBytes);
    assert.ok(r.temperatureC === null || (r.temperatureC > 0 && r.temperatureC < 120), `temperature ${r.temperatureC}`);
    assert.ok(r.powerW === null || (r.powerW > 1 && r.powerW < 2000), `power ${r.powerW} W`);
    assert.ok(r.clocksMhz.sm === null || (r.clocksMhz.sm > 0 && r.clocksMhz.sm < 5000), `sm clock ${r.clocksMhz.sm}`);
    assert.ok(r.clocksMhz.memory === null || r.clocksMhz.memory > 0);
  }
});

test('name and total memory agree with nvidia-smi', { skip: spawnSync('nvidia-smi', ['-L']).status !== 0 && 'nvidia-smi not installed' }, () => {
  const out = spawnSync('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'], { encoding: 'utf8' }).stdout;
  const rows = out.trim().split('\n').map((l) => l.split(',').map((f) => f.trim()));
  for (const [i, [name, totalMiB]] of rows.entries()) {
    const r = monitor.read(i);
    assert.equal(r.name, name);
    assert.ok(Math.abs(r.memoryTotalBytes / 2 ** 20 - Number(totalMiB)) <= 1, `${r.memoryTotalBytes} B vs ${totalMiB} MiB`);
  }
});

test('sampled utilization sees a kernel loop', () => {
  const { lastSeenUs } = monitor.utilizationSamples(0);
  const until = performance.now() + 1500;
  while (performance.now() < until) gpu.selfTest(1 << 24);
  const fresh = monitor.utilizationSamples(0, { sinceUs: lastSeenUs });
  assert.ok(fresh.percent.length > 0, 'no new NVML_GPU_UTILIZATION_SAMPLES after 1.5 s of kernels');
  assert.ok(fresh.timestampsUs.every((t, i) => t > lastSeenUs && (i === 0 || t >= fresh.timestampsUs[i - 1])));
  assert.ok(Math.max(...fresh.percent) > 0, `samples ${fresh.percent.join(' ')}`);
  const u = monitor.utilization(0, { periodMs: 500 });
  assert.ok(u.samples > 0 && u.maxPercent > 0, JSON.stringify(u));
});

test('GPU gauges come out of a scrape (a minimal registry: no prom-client on the device machine)', async () => {
  const metrics = new Map();
  const registry = {
    registerMetric: (m) => metrics.set(m.name, m),
    getSingleMetric: (n) => metrics.get(n),
    removeSingleMetric: (n) => metrics.delete(n),
    metrics: async () => '',
  };
  registerPrometheus({ registry, latency: null, gpu: monitor });
  const up = await metrics.get('ultra_perf_gpu_up').get();
  assert.deepEqual(up.values, [{ labels: {}, value: 1 }]);
  const mem = await metrics.get('ultra_perf_gpu_memory_total_bytes').get();
  assert.equal(mem.values.length, monitor.deviceCount);
  monitor.close();
});
