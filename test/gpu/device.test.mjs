// The device itself: found by the loader, runs our fat binary, gives memory back.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { lib } from './helpers.mjs';

const { backendInfo, gpu } = lib;

test('the loader found a usable device', () => {
  const info = backendInfo();
  assert.equal(info.cudaError, undefined, `the loader found no usable device: ${info.cudaError}`);
  assert.equal(info.cuda, true);
  assert.equal(gpu.available(), true);
});

test('devices have a name, memory and compute capability >= 7.5', () => {
  assert.ok(gpu.devices().length > 0);
  for (const d of gpu.devices()) {
    assert.match(d.name, /\w/);
    assert.ok(d.totalMemory > 2 ** 30);
    assert.ok(Number(d.computeCapability) >= 7.5);
  }
});

test('selectDevice, currentDevice and a bad index', () => {
  gpu.selectDevice(0);
  assert.equal(gpu.currentDevice(), 0);
  assert.throws(() => gpu.selectDevice(gpu.devices().length), RangeError);
  assert.throws(() => gpu.selectDevice(-1), RangeError);
  assert.throws(() => gpu.selectDevice(0.5), TypeError);
});

test('a kernel from the fat binary runs and its output checks out on the host', () => {
  gpu.selfTest(1 << 20);
});

test('a long loop of kernels leaves free device memory where it was', () => {
  gpu.selfTest(1 << 20);
  const before = gpu.memoryInfo().free;
  for (let i = 0; i < 200; i++) gpu.selfTest(1 << 22);
  assert.equal(gpu.memoryInfo().free, before);
});
