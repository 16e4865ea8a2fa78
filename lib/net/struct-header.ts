/**
 * The C++ side of a struct schema: `structHeader(schema)` returns the text of a header that
 * reads and writes the same bytes as `defineStruct(schema)` (cpp/net/struct_frame.hpp holds
 * the shared frame helpers). The headers of the schemas this library ships are checked in
 * under cpp/net/ (`npx tsx scripts/gen-struct-headers.ts`); test/struct-header.test.ts
 * fails when one is stale.
 */

import { type ResolvedField, type StructSchema, blockLengthAt, kStructHeaderBytes, resolveStructSchema } from './struct.js';

/** The command that rewrites the checked-in headers. */
export const kStructHeaderCommand = 'npx tsx scripts/gen-struct-headers.ts';

/** camelCase → snake_case ('bidPrice' → 'bid_price'). */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** camelCase → PascalCase ('bidPrice' → 'BidPrice'). */
function pascalCase(name: string): string {
  return name[0]!.toUpperCase() + name.slice(1);
}

/** The file name of a schema's header: 'Quote' → 'struct_quote.hpp'. */
export function structHeaderFileName(schema: StructSchema): string {
  return `struct_${snakeCase(schema.name[0]!.toLowerCase() + schema.name.slice(1))}.hpp`;
}

const kCppInts: Record<string, string> = {
  u8: 'std::uint8_t', u16: 'std::uint16_t', u32: 'std::uint32_t', u64: 'std::uint64_t',
  i8: 'std::int8_t', i16: 'std::int16_t', i32: 'std::int32_t', i64: 'std::int64_t', price: 'std::int64_t',
  f32: 'float', f64: 'double', char: 'char',
};

function memberType(f: ResolvedField): string {
  if (f.type === 'ascii') return `std::array<char, ${f.size}>`;
  if (f.type === 'enum') return pascalCase(f.name);
  return kCppInts[f.type]!;
}

function memberComment(f: ResolvedField): string {
  switch (f.type) {
    case 'price': return ` // ticks of 10^${f.exponent}`;
    case 'ascii': return ` // ASCII, ${f.pad === 'space' ? 'space' : 'NUL'}-padded`;
    case 'u64': case 'i64': return f.bigint ? '' : ' // |v| <= 2^53 - 1 (a JS number)';
    default: return '';
  }
}

/** Whether decoding the field can refuse its bytes (and so needs a check). */
function decodeCheck(f: ResolvedField, at: string): string | undefined {
  const off = `kStructHeaderBytes + ${f.offset}`;
  const fail = `{ *error_at = ${off}; return FrameStatus::kBadValue; }`;
  const m = snakeCase(f.name);
  if (f.type === 'ascii' || f.type === 'char') {
    return `if (const std::size_t i = first_non_ascii(${at}, ${f.size}); i != ${f.size}) { *error_at = ${off} + i; return FrameStatus::kBadValue; }`;
  }
  if (f.type === 'enum') return `if (${at}[0] >= ${f.values.length}) ${fail}`;
  if ((f.type === 'u64' || f.type === 'i64' || f.type === 'price') && !f.bigint) return `if (!safe_integer(out->${m})) ${fail}`;
  return undefined;
}

/**
 * The C++ header for `schema`, as text: a struct with the schema's constants, one member per
 * field (snake_case), `encode(out)` and `decode(in, length, out, error_at)`.
 *
 * @example
 * writeFileSync('cpp/net/struct_quote.hpp', structHeader(quoteSchema));
 */
export function structHeader(schema: StructSchema, source = 'lib/net/struct-schemas.ts'): string {
  const s = resolveStructSchema(schema);
  const L: string[] = [];
  const name = s.name;
  L.push(`// Generated from ${source} (schema ${name}) by \`${kStructHeaderCommand}\`: do not edit.`);
  L.push(`// Reads and writes the bytes of defineStruct(${name}) in lib/net/struct.ts; the frame is struct_frame.hpp's.`);
  L.push('#pragma once', '');
  L.push('#include <array>', '#include <cstddef>', '#include <cstdint>', '#include <cstring>', '');
  L.push('#include "struct_frame.hpp"', '');
  L.push('namespace up::net {', '');
  L.push(`struct ${name} {`);
  L.push(`  static constexpr std::uint16_t kTemplateId = ${s.templateId};`);
  L.push(`  static constexpr std::uint16_t kSchemaId = ${s.schemaId};`);
  L.push(`  static constexpr std::uint16_t kSchemaVersion = ${s.version};`);
  L.push(`  static constexpr std::uint16_t kBlockLength = ${s.blockLength};`);
  L.push(`  static constexpr std::size_t kEncodedLength = kStructHeaderBytes + kBlockLength;`);
  for (const f of s.fields) L.push(`  static constexpr std::size_t k${pascalCase(f.name)}Offset = ${f.offset};`);
  for (const f of s.fields) if (f.type === 'price') L.push(`  static constexpr int k${pascalCase(f.name)}Exponent = ${f.exponent};`);
  for (const f of s.fields) {
    if (f.type !== 'enum') continue;
    L.push(`  enum class ${pascalCase(f.name)} : std::uint8_t { ${f.values.map((v, i) => `k${pascalCase(v)} = ${i}`).join(', ')} };`);
  }
  L.push('');
  L.push('  // The block bytes a frame of `version` must carry: the end of the fields it has.');
  L.push('  static constexpr std::uint16_t block_length_at([[maybe_unused]] std::uint16_t version) noexcept {');
  const versions = [...new Set(s.fields.map((f) => f.sinceVersion))].sort((a, b) => b - a);
  for (const v of versions) {
    if (v === 0) continue;
    L.push(`    if (version >= ${v}) return ${blockLengthAt(s, v)};`);
  }
  L.push(`    return ${blockLengthAt(s, 0)};`);
  L.push('  }', '');
  for (const f of s.fields) {
    const init = f.type === 'ascii' ? '{}' : f.type === 'enum' ? `{}` : ' = 0';
    L.push(`  ${memberType(f)} ${snakeCase(f.name)}${init};${memberComment(f)}${f.sinceVersion > 0 ? ` // since version ${f.sinceVersion}` : ''}`);
  }
  L.push('');
  L.push('  // Writes the header and the block (padding zeroed) to out[0, kEncodedLength).');
  L.push('  void encode(std::uint8_t* out) const noexcept {');
  L.push('    std::memset(out, 0, kEncodedLength);');
  L.push('    write_header(out, {kBlockLength, kTemplateId, kSchemaId, kSchemaVersion});');
  L.push('    std::uint8_t* block = out + kStructHeaderBytes;');
  for (const f of s.fields) {
    const m = snakeCase(f.name);
    const at = `block + k${pascalCase(f.name)}Offset`;
    if (f.type === 'ascii') L.push(`    std::memcpy(${at}, ${m}.data(), ${f.size});`);
    else L.push(`    store(${at}, ${m});`);
  }
  L.push('  }', '');
  L.push('  // Reads the frame in[0, length): kOk, or why not with *error_at the offending byte of the frame.');
  L.push('  // Checks in the order the TS decoder does, so both name the same byte. Fields a frame of an');
  L.push('  // older version lacks are zero; a NUL/space-padded string keeps its padding here.');
  L.push(`  static FrameStatus decode(const std::uint8_t* in, std::size_t length, ${name}* out, std::size_t* error_at) noexcept {`);
  L.push('    FrameHeader h{};');
  L.push('    const FrameStatus status = check_frame(in, length, kTemplateId, kSchemaId, kSchemaVersion, block_length_at, true, &h, error_at);');
  L.push('    if (status != FrameStatus::kOk) return status;');
  L.push(`    *out = ${name}{};`);
  L.push('    const std::uint8_t* block = in + kStructHeaderBytes;');
  for (const f of s.fields) {
    const m = snakeCase(f.name);
    const at = `block + k${pascalCase(f.name)}Offset`;
    const body: string[] = [];
    if (f.type === 'ascii') body.push(`std::memcpy(out->${m}.data(), ${at}, ${f.size});`);
    else if (f.type === 'enum') body.push(`out->${m} = static_cast<${pascalCase(f.name)}>((${at})[0]);`);
    else body.push(`out->${m} = load<${kCppInts[f.type]}>(${at});`);
    const check = decodeCheck(f, `(${at})`);
    if (check !== undefined) {
      if (f.type === 'enum' || f.type === 'ascii' || f.type === 'char') body.unshift(check);
      else body.push(check);
    }
    if (f.sinceVersion > 0) L.push(`    if (h.version >= ${f.sinceVersion}) { ${body.join(' ')} }`);
    else for (const b of body) L.push(`    ${b}`);
  }
  L.push('    return FrameStatus::kOk;');
  L.push('  }');
  L.push('};', '');
  L.push(`static_assert(${name}::kEncodedLength == ${kStructHeaderBytes + s.blockLength});`, '');
  L.push('}  // namespace up::net', '');
  return L.join('\n');
}
