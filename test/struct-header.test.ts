import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { kStructHeaderCommand, structHeader, structHeaderFileName } from '../lib/net/index.js';
import * as schemas from '../lib/net/struct-schemas.js';

const root = join(import.meta.dirname, '..');

describe('generated C++ struct headers', () => {
  it('ships a header for every schema', () => {
    expect(Object.keys(schemas).sort()).toEqual(['instrumentSchema', 'quoteSchema']);
  });

  for (const [key, schema] of Object.entries(schemas)) {
    it(`cpp/net/${structHeaderFileName(schema)} is current for ${key}`, () => {
      const path = join(root, 'cpp', 'net', structHeaderFileName(schema));
      let current = '';
      try {
        current = readFileSync(path, 'utf8');
      } catch {
        // compared below: empty never matches
      }
      const fresh = structHeader(schema);
      // Byte-for-byte; the message says how to fix it.
      expect(current === fresh, `${path} is stale: run ${kStructHeaderCommand}`).toBe(true);
    });
  }

  it('names members, offsets and constants after the schema', () => {
    const text = structHeader(schemas.quoteSchema);
    expect(text).toContain('struct Quote {');
    expect(text).toContain('static constexpr std::uint16_t kTemplateId = 1;');
    expect(text).toContain('static constexpr std::size_t kBidPriceOffset = 16;');
    expect(text).toContain('static constexpr int kBidPriceExponent = -4;');
    expect(text).toContain('std::int64_t bid_price = 0; // ticks of 10^-4');
    expect(text).toContain('static_assert(Quote::kEncodedLength == 48);');
  });
});
