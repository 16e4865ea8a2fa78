/**
 * NASDAQ MoldUDP64: the UDP framing that carries ITCH (and other) message streams, with
 * sequence numbers, heartbeats, end of session and retransmission requests. Pure encoding,
 * decoding and sequencing logic; no sockets (the publisher and subscriber build on this).
 *
 * Source: "MoldUDP64 Protocol Specification V 1.00" (NASDAQ OMX, 07/07/2009). Every number
 * field is big-endian.
 * - Downstream packet: a 20-byte header, session (10 bytes, ASCII), sequence number (u64: the
 *   sequence number of the first message in the packet), message count (u16), followed by
 *   that many message blocks, each a u16 length and that many bytes (0 to 65535).
 * - Heartbeat: a downstream packet with message count 0; its sequence number is the next one
 *   the server will send. End of session: message count 0xFFFF, sequence number likewise the
 *   next expected one; re-requests are still served while these are sent.
 * - Request packet (to a re-request server): session (10), sequence number of the first
 *   message wanted (u64), requested message count (u16). The reply is an ordinary
 *   downstream packet unicast back to the requester.
 * Sequence numbers of a session start at 1.
 *
 * Choices made here (not in the spec):
 * - Sessions are given as strings of at most 10 printable ASCII characters (0x20–0x7E) and
 *   are right-padded with spaces on the wire; decoding returns them without the trailing
 *   spaces (`'ABC'` is sent as `'ABC       '`), so decode → encode gives the same bytes.
 * - Sequence numbers are `number`s in [1, 2^53 − 1] (exact in a double); a larger one on the
 *   wire is refused rather than rounded, as is a packet whose last message would pass 2^53 − 1.
 * - Packet size is capped by `mtu`, the UDP payload limit: by default 1472 bytes (an Ethernet
 *   MTU of 1500 less 20 bytes of IPv4 header and 8 of UDP header), at most 65507 (the largest
 *   IPv4 UDP payload).
 * - Decoding never copies message bytes: messages are `subarray` views of the packet.
 *
 * Errors: bad arguments to an encoder throw a TypeError/RangeError naming the argument and
 * its value (codes ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE / ERR_OUT_OF_RANGE); bad bytes
 * throw `SourceFormatError(file, 'byte N', …)`, N the offset of the field that is wrong
 * (file `'<packet>'` unless given).
 */

import { SourceFormatError, invalidRange, invalidType, invalidValue } from '../errors.js';

/** Bytes of the downstream packet header and of a request packet: session, sequence, count. */
export const kMoldHeaderBytes = 20;
/** Bytes of the session field (ASCII, right-padded with spaces). */
export const kMoldSessionBytes = 10;
/** Message count that marks an end-of-session packet. */
export const kMoldEndOfSession = 0xffff;
/** The most messages one downstream packet can carry (0xFFFF is reserved for end of session). */
export const kMoldMaxMessages = 0xfffe;
/** The longest message a block can carry (its length field is a u16). */
export const kMoldMaxMessageBytes = 0xffff;
/** Default packet limit: Ethernet MTU 1500 − IPv4 header 20 − UDP header 8. */
export const kMoldDefaultMtu = 1472;
/** Largest UDP payload over IPv4 (65535 − 20 − 8): the most `mtu` may be. */
export const kMoldMaxMtu = 65507;
/** Largest sequence number accepted: 2^53 − 1, the last integer exact in a double. */
export const kMoldMaxSequence = Number.MAX_SAFE_INTEGER;

const kDefaultFile = '<packet>';

/** A downstream packet to encode: `sequence` is the sequence number of `messages[0]`. */
export interface MoldPacketInput {
  /** Up to 10 printable ASCII characters; right-padded with spaces on the wire. */
  session: string;
  /** Sequence number of the first message, in [1, 2^53 − 1]. */
  sequence: number;
  /** The message payloads (0 to 65535 bytes each); none makes a heartbeat. */
  messages: readonly Uint8Array[];
}

/** A retransmission request: `count` messages starting at `sequence`. */
export interface MoldRequest {
  session: string;
  /** First sequence number wanted, in [1, 2^53 − 1]. */
  sequence: number;
  /** Messages wanted, in [1, 65535]. */
  count: number;
}

/** A decoded downstream packet. */
export interface MoldPacket {
  /** `'messages'` when count ≥ 1, `'heartbeat'` when 0, `'end-of-session'` when 0xFFFF. */
  kind: 'messages' | 'heartbeat' | 'end-of-session';
  /** The session without its trailing spaces. */
  session: string;
  /** Sequence number of the first message; for a heartbeat or end of session, the next one expected. */
  sequence: number;
  /** Number of messages carried (0 for heartbeat and end of session). */
  count: number;
  /** The messages in order, as views of the packet's bytes (not copies). */
  messages: Uint8Array[];
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkSession(session: unknown, argument: string): string {
  if (typeof session !== 'string') throw invalidType(argument, 'a string of at most 10 ASCII characters', session);
  if (session.length > kMoldSessionBytes) throw invalidValue(argument, 'a string of at most 10 ASCII characters', session);
  for (let i = 0; i < session.length; i++) {
    const c = session.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) throw invalidValue(argument, 'a string of printable ASCII characters (0x20-0x7E)', session);
  }
  return session;
}

function checkSequence(sequence: unknown, argument: string): number {
  if (typeof sequence !== 'number') throw invalidType(argument, 'an integer in [1, 2^53 - 1]', sequence);
  if (!Number.isInteger(sequence) || sequence < 1 || sequence > kMoldMaxSequence) {
    throw invalidRange(argument, 'an integer in [1, 2^53 - 1]', sequence);
  }
  return sequence;
}

function checkOut(out: unknown, offset: unknown, length: number): Uint8Array {
  if (!(out instanceof Uint8Array)) throw invalidType('out', 'a Uint8Array', out);
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0 || offset + length > out.length) {
    throw invalidValue('offset', `an integer with ${length} bytes of out after it`, offset);
  }
  return out;
}

function checkMtu(mtu: unknown): number {
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < kMoldHeaderBytes || mtu > kMoldMaxMtu) {
    throw invalidRange('mtu', `an integer in [${kMoldHeaderBytes}, ${kMoldMaxMtu}]`, mtu);
  }
  return mtu;
}

/** Writes the 20-byte header (session padded with spaces) at `at`; arguments already checked. */
function writeHeader(out: Uint8Array, at: number, session: string, sequence: number, count: number): void {
  for (let i = 0; i < kMoldSessionBytes; i++) out[at + i] = i < session.length ? session.charCodeAt(i) : 0x20;
  const view = viewOf(out);
  view.setUint32(at + 10, Math.floor(sequence / 4294967296));
  view.setUint32(at + 14, sequence % 4294967296);
  view.setUint16(at + 18, count);
}

/**
 * Size in bytes of the downstream packet carrying `messages`: 20 + Σ(2 + length).
 * @example
 * moldPacketBytes([new Uint8Array(36)]); // 58
 */
export function moldPacketBytes(messages: readonly Uint8Array[]): number {
  if (!Array.isArray(messages)) throw invalidType('messages', 'an array of Uint8Array', messages);
  let total = kMoldHeaderBytes;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (!(m instanceof Uint8Array)) throw invalidType(`messages[${i}]`, 'a Uint8Array', m);
    total += 2 + m.length;
  }
  return total;
}

/**
 * Encodes a downstream packet into `out` at `offset` with no allocation and returns the bytes
 * written. With no messages it is a heartbeat.
 *
 * @throws TypeError/RangeError naming the argument: a session longer than 10 characters or
 *   not printable ASCII, a sequence outside [1, 2^53 − 1] (or whose last message would be),
 *   more than 65534 messages, a message longer than 65535 bytes, a packet larger than `mtu`,
 *   or too little room in `out`.
 * @example
 * const buf = new Uint8Array(kMoldDefaultMtu);
 * const n = encodeMoldPacketInto({ session: 'SESSION1', sequence: 1, messages: [msg] }, buf);
 * socket.send(buf.subarray(0, n));
 */
export function encodeMoldPacketInto(packet: MoldPacketInput, out: Uint8Array, offset = 0, mtu = kMoldDefaultMtu): number {
  if (packet === null || typeof packet !== 'object') throw invalidType('packet', 'an object { session, sequence, messages }', packet);
  const session = checkSession(packet.session, 'packet.session');
  const sequence = checkSequence(packet.sequence, 'packet.sequence');
  const messages = packet.messages;
  if (!Array.isArray(messages)) throw invalidType('packet.messages', 'an array of Uint8Array', messages);
  if (messages.length > kMoldMaxMessages) throw invalidRange('packet.messages.length', `at most ${kMoldMaxMessages} messages`, messages.length);
  // compared without adding: sequence + n can round past 2^53 and back
  if (messages.length > 0 && sequence > kMoldMaxSequence - (messages.length - 1)) {
    throw invalidRange('packet.sequence', `an integer with its ${messages.length} messages numbered within 2^53 - 1`, sequence);
  }
  checkMtu(mtu);
  let total = kMoldHeaderBytes;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (!(m instanceof Uint8Array)) throw invalidType(`packet.messages[${i}]`, 'a Uint8Array', m);
    if (m.length > kMoldMaxMessageBytes) throw invalidRange(`packet.messages[${i}].length`, 'at most 65535 bytes', m.length);
    total += 2 + m.length;
  }
  if (total > mtu) throw invalidRange('packet', `a packet of at most mtu = ${mtu} bytes (this one is ${total})`, total);
  checkOut(out, offset, total);
  writeHeader(out, offset, session, sequence, messages.length);
  let at = offset + kMoldHeaderBytes;
  for (const m of messages) {
    out[at] = m.length >> 8;
    out[at + 1] = m.length & 0xff;
    out.set(m, at + 2);
    at += 2 + m.length;
  }
  return total;
}

/**
 * Encodes a downstream packet and returns its bytes: a view of `options.out` at
 * `options.offset` when given, else a new buffer of exactly the packet's size.
 * @throws as `encodeMoldPacketInto`, naming the argument.
 * @example
 * const bytes = encodeMoldPacket({ session: 'SESSION1', sequence: 42, messages: [a, b] });
 */
export function encodeMoldPacket(packet: MoldPacketInput, options: { out?: Uint8Array; offset?: number; mtu?: number } = {}): Uint8Array {
  const mtu = options.mtu ?? kMoldDefaultMtu;
  if (options.out === undefined) {
    let size = kMoldHeaderBytes;
    if (Array.isArray(packet?.messages)) for (const m of packet.messages) size += 2 + (m instanceof Uint8Array ? m.length : 0);
    // never larger than the mtu: a packet past it is refused by encodeMoldPacketInto before any write
    const out = new Uint8Array(Math.min(size, typeof mtu === 'number' && mtu >= kMoldHeaderBytes && mtu <= kMoldMaxMtu ? mtu : kMoldHeaderBytes));
    return out.subarray(0, encodeMoldPacketInto(packet, out, 0, mtu));
  }
  const offset = options.offset ?? 0;
  const n = encodeMoldPacketInto(packet, options.out, offset, mtu);
  return options.out.subarray(offset, offset + n);
}

function encodeControl(session: string, sequence: number, count: number, out: Uint8Array | undefined, offset: number): Uint8Array {
  checkSession(session, 'session');
  checkSequence(sequence, 'nextSequence');
  const bytes = out === undefined ? new Uint8Array(kMoldHeaderBytes) : checkOut(out, offset, kMoldHeaderBytes);
  const at = out === undefined ? 0 : offset;
  writeHeader(bytes, at, session, sequence, count);
  return bytes.subarray(at, at + kMoldHeaderBytes);
}

/**
 * Encodes a heartbeat (message count 0) announcing `nextSequence`, the sequence number the
 * server sends next; into `out` at `offset` when given (the view is returned), else a new
 * 20-byte buffer.
 * @throws TypeError/RangeError naming `session`, `nextSequence`, `out` or `offset`.
 * @example
 * socket.send(encodeMoldHeartbeat('SESSION1', 1001));
 */
export function encodeMoldHeartbeat(session: string, nextSequence: number, out?: Uint8Array, offset = 0): Uint8Array {
  return encodeControl(session, nextSequence, 0, out, offset);
}

/**
 * Encodes an end-of-session packet (message count 0xFFFF) with `nextSequence`, one past the
 * session's last message; into `out` at `offset` when given, else a new 20-byte buffer.
 * @throws TypeError/RangeError naming `session`, `nextSequence`, `out` or `offset`.
 * @example
 * socket.send(encodeMoldEndOfSession('SESSION1', lastSequence + 1));
 */
export function encodeMoldEndOfSession(session: string, nextSequence: number, out?: Uint8Array, offset = 0): Uint8Array {
  return encodeControl(session, nextSequence, kMoldEndOfSession, out, offset);
}

/** Checks a request's fields, naming `request`, `request.session`, `request.sequence` or `request.count`. */
function checkRequest(request: MoldRequest): MoldRequest {
  if (request === null || typeof request !== 'object') throw invalidType('request', 'an object { session, sequence, count }', request);
  const session = checkSession(request.session, 'request.session');
  const sequence = checkSequence(request.sequence, 'request.sequence');
  const count = request.count;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 0xffff) {
    throw invalidRange('request.count', 'an integer in [1, 65535]', count);
  }
  return { session, sequence, count };
}

/**
 * Encodes a retransmission request for `count` messages from `sequence`; into `out` at
 * `offset` when given, else a new 20-byte buffer.
 * @throws TypeError/RangeError naming `request.session`, `request.sequence`, `request.count`,
 *   `out` or `offset` (count must be in [1, 65535]).
 * @example
 * socket.send(encodeMoldRequest({ session: 'SESSION1', sequence: 500, count: 20 }), rerequestPort, host);
 */
export function encodeMoldRequest(request: MoldRequest, out?: Uint8Array, offset = 0): Uint8Array {
  const { session, sequence, count } = checkRequest(request);
  const bytes = out === undefined ? new Uint8Array(kMoldHeaderBytes) : checkOut(out, offset, kMoldHeaderBytes);
  const at = out === undefined ? 0 : offset;
  writeHeader(bytes, at, session, sequence, count);
  return bytes.subarray(at, at + kMoldHeaderBytes);
}

/** Reads and checks the session and sequence of a 20-byte header at offset 0. */
function readHeader(bytes: Uint8Array, file: string, what: string): { session: string; sequence: number; count: number } {
  if (bytes.length < kMoldHeaderBytes) {
    throw new SourceFormatError(file, `byte ${bytes.length}`, `truncated ${what}: ${bytes.length} bytes, the header alone is ${kMoldHeaderBytes}`);
  }
  let end = kMoldSessionBytes;
  while (end > 0 && bytes[end - 1] === 0x20) end--;
  let session = '';
  for (let i = 0; i < kMoldSessionBytes; i++) {
    const c = bytes[i]!;
    if (c < 0x20 || c > 0x7e) throw new SourceFormatError(file, `byte ${i}`, `session byte 0x${c.toString(16).padStart(2, '0')} is not printable ASCII`);
    if (i < end) session += String.fromCharCode(c);
  }
  const view = viewOf(bytes);
  const high = view.getUint32(10);
  const sequence = high * 4294967296 + view.getUint32(14);
  if (high >= 0x200000) throw new SourceFormatError(file, 'byte 10', `sequence number ${view.getBigUint64(10)} is past 2^53 - 1 and not exact in a double`);
  if (sequence === 0) throw new SourceFormatError(file, 'byte 10', 'sequence number 0: sequence numbers start at 1');
  return { session, sequence, count: view.getUint16(18) };
}

/**
 * Decodes one downstream packet (one UDP datagram). Messages are views of `bytes`; nothing is
 * copied and nothing is allocated sized by a length field.
 *
 * @throws SourceFormatError (`byte N`): fewer than 20 bytes, a session byte that is not
 *   printable ASCII, sequence 0 or past 2^53 − 1 (or a last message past it), a message count
 *   that cannot fit in the bytes left, a message block whose length runs past the end, bytes
 *   after the last message, or a heartbeat / end of session with a payload.
 * @example
 * const p = decodeMoldPacket(datagram);
 * if (p.kind === 'messages') p.messages.forEach((m, i) => handle(p.sequence + i, decodeItch(m)));
 */
export function decodeMoldPacket(bytes: Uint8Array, options: { file?: string } = {}): MoldPacket {
  if (!(bytes instanceof Uint8Array)) throw invalidType('bytes', 'a Uint8Array', bytes);
  const file = options.file ?? kDefaultFile;
  const { session, sequence, count } = readHeader(bytes, file, 'packet');
  if (count === 0 || count === kMoldEndOfSession) {
    if (bytes.length !== kMoldHeaderBytes) {
      throw new SourceFormatError(file, `byte ${kMoldHeaderBytes}`, `${bytes.length - kMoldHeaderBytes} bytes after a ${count === 0 ? 'heartbeat' : 'end-of-session'} header, which carries none`);
    }
    return { kind: count === 0 ? 'heartbeat' : 'end-of-session', session, sequence, count: 0, messages: [] };
  }
  if (sequence > kMoldMaxSequence - (count - 1)) {
    throw new SourceFormatError(file, 'byte 10', `sequence number ${sequence} with ${count} messages runs past 2^53 - 1`);
  }
  if (kMoldHeaderBytes + 2 * count > bytes.length) {
    throw new SourceFormatError(file, 'byte 18', `message count ${count} needs at least ${2 * count} bytes of blocks, ${bytes.length - kMoldHeaderBytes} left`);
  }
  const messages: Uint8Array[] = [];
  let at = kMoldHeaderBytes;
  for (let i = 0; i < count; i++) {
    if (at + 2 > bytes.length) throw new SourceFormatError(file, `byte ${at}`, `truncated packet: message ${i + 1} of ${count} has no length field`);
    const length = (bytes[at]! << 8) | bytes[at + 1]!;
    if (at + 2 + length > bytes.length) {
      throw new SourceFormatError(file, `byte ${at}`, `message ${i + 1} of ${count}: length ${length} runs past the end (${bytes.length - at - 2} bytes left)`);
    }
    messages.push(bytes.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  if (at !== bytes.length) throw new SourceFormatError(file, `byte ${at}`, `${bytes.length - at} bytes after the last of ${count} messages`);
  return { kind: 'messages', session, sequence, count, messages };
}

/**
 * Decodes a retransmission request (exactly 20 bytes).
 * @throws SourceFormatError (`byte N`): not 20 bytes, a bad session byte, sequence 0 or past
 *   2^53 − 1, or a requested count of 0.
 * @example
 * const { session, sequence, count } = decodeMoldRequest(datagram);
 */
export function decodeMoldRequest(bytes: Uint8Array, options: { file?: string } = {}): MoldRequest {
  if (!(bytes instanceof Uint8Array)) throw invalidType('bytes', 'a Uint8Array', bytes);
  const file = options.file ?? kDefaultFile;
  const { session, sequence, count } = readHeader(bytes, file, 'request');
  if (bytes.length !== kMoldHeaderBytes) throw new SourceFormatError(file, `byte ${kMoldHeaderBytes}`, `request of ${bytes.length} bytes, a request is exactly ${kMoldHeaderBytes}`);
  if (count === 0) throw new SourceFormatError(file, 'byte 18', 'requested message count 0');
  return { session, sequence, count };
}

/**
 * Splits `messages` into as few downstream packets as fit `mtu`, in order, numbered from
 * `firstSequence`. Each packet is a new buffer.
 * @throws as `encodeMoldPacketInto`; a message too big for a packet of its own is named.
 * @example
 * const packets = packMoldPackets('SESSION1', 1, itchMessages); // each ≤ 1472 bytes
 */
export function packMoldPackets(session: string, firstSequence: number, messages: readonly Uint8Array[], mtu = kMoldDefaultMtu): Uint8Array[] {
  checkSession(session, 'session');
  checkSequence(firstSequence, 'firstSequence');
  checkMtu(mtu);
  if (!Array.isArray(messages)) throw invalidType('messages', 'an array of Uint8Array', messages);
  const packets: Uint8Array[] = [];
  let start = 0;
  while (start < messages.length) {
    let size = kMoldHeaderBytes;
    let end = start;
    while (end < messages.length && end - start < kMoldMaxMessages) {
      const m = messages[end];
      if (!(m instanceof Uint8Array)) throw invalidType(`messages[${end}]`, 'a Uint8Array', m);
      if (size + 2 + m.length > mtu) break;
      size += 2 + m.length;
      end++;
    }
    if (end === start) {
      throw invalidRange(`messages[${start}].length`, `at most mtu - 22 = ${mtu - 22} bytes to fit a packet`, messages[start]!.length);
    }
    packets.push(encodeMoldPacket({ session, sequence: firstSequence + start, messages: messages.slice(start, end) }, { mtu }));
    start = end;
  }
  return packets;
}

/**
 * What `MoldSession.accept` decided about a packet:
 * - `'deliver'`: messages `[deliverFrom, count)` of the packet are new and in order; the
 *   expected sequence has moved past them (`deliverFrom` > 0 when the packet overlaps ones
 *   already delivered).
 * - `'duplicate'`: every message was delivered before; drop it.
 * - `'gap'`: the packet starts past the expected sequence: messages
 *   `[gapFrom, gapFrom + gapCount)` are missing (request them; one request covers at most
 *   65535). Nothing is delivered; hold the packet and offer it again after the gap is filled.
 * - `'heartbeat'`: a heartbeat (or end of session) with nothing missing.
 * - `'wrong-session'`: another session's packet; ignored.
 */
export type MoldVerdictStatus = 'deliver' | 'duplicate' | 'gap' | 'heartbeat' | 'wrong-session';

/** The result of `MoldSession.accept`: one object, reused and overwritten by each call. */
export interface MoldVerdict {
  status: MoldVerdictStatus;
  /** Index of the packet's first new message (`'deliver'`), else 0. */
  deliverFrom: number;
  /** First missing sequence number (`'gap'`), else 0. */
  gapFrom: number;
  /** Number of missing messages (`'gap'`), else 0. */
  gapCount: number;
}

/**
 * Sequencer for one MoldUDP64 session on the receiving side: tracks the next expected sequence
 * number and classifies each decoded packet as in order, duplicate or after a gap. Pure logic,
 * no sockets, no allocation per packet (the verdict object is reused).
 *
 * @example
 * const seq = new MoldSession({ session: 'SESSION1' });
 * const v = seq.accept(decodeMoldPacket(datagram));
 * if (v.status === 'deliver') for (let i = v.deliverFrom; i < p.count; i++) handle(p.messages[i]);
 * else if (v.status === 'gap') send(encodeMoldRequest({ session: seq.session!, sequence: v.gapFrom, count: Math.min(v.gapCount, 65535) }));
 */
export class MoldSession {
  /** The session followed; learned from the first packet when not given. */
  session: string | undefined;
  /** The sequence number of the next message to deliver. */
  nextSequence: number;
  /** True once an end-of-session packet has been seen. */
  ended = false;
  /** The highest sequence number the server has announced (one past its last message seen). */
  highWater: number;
  private readonly verdict: MoldVerdict = { status: 'heartbeat', deliverFrom: 0, gapFrom: 0, gapCount: 0 };

  /**
   * @param options.session the session to follow (else the first packet's), at most 10 ASCII characters.
   * @param options.nextSequence the first sequence number expected, default 1.
   * @throws TypeError/RangeError naming `options.session` or `options.nextSequence`.
   */
  constructor(options: { session?: string; nextSequence?: number } = {}) {
    this.session = options.session === undefined ? undefined : checkSession(options.session, 'options.session').trimEnd();
    this.nextSequence = checkSequence(options.nextSequence ?? 1, 'options.nextSequence');
    this.highWater = this.nextSequence;
  }

  /**
   * Classifies a decoded packet and, for `'deliver'`, advances `nextSequence`. Returns the
   * reused verdict (read it before the next call).
   * @example
   * const v = seq.accept(packet); // v.status: 'deliver' | 'duplicate' | 'gap' | 'heartbeat' | 'wrong-session'
   */
  accept(packet: MoldPacket): MoldVerdict {
    const v = this.verdict;
    v.deliverFrom = 0;
    v.gapFrom = 0;
    v.gapCount = 0;
    if (this.session === undefined) this.session = packet.session;
    if (packet.session !== this.session) {
      v.status = 'wrong-session';
      return v;
    }
    const next = this.nextSequence;
    const end = packet.sequence + packet.count;
    if (end > this.highWater) this.highWater = end;
    if (packet.kind === 'end-of-session') this.ended = true;
    if (packet.sequence > next) {
      v.status = 'gap';
      v.gapFrom = next;
      v.gapCount = packet.sequence - next;
    } else if (packet.count === 0) {
      v.status = 'heartbeat';
    } else if (end <= next) {
      v.status = 'duplicate';
    } else {
      v.status = 'deliver';
      v.deliverFrom = next - packet.sequence;
      this.nextSequence = end;
    }
    return v;
  }

  /** Messages announced by the server but not yet delivered (`highWater − nextSequence`). */
  get missing(): number {
    return this.highWater - this.nextSequence;
  }
}

/**
 * What `MoldRetransmitStore.reply` did with the last request (`lastReply`):
 * - `'served'`: every requested message was sent.
 * - `'partial'`: only `[sequence, sequence + count)` was sent: the requested messages before
 *   it were evicted, or those after it have not been sent yet (the range is capped at the
 *   store's last message).
 * - `'evicted'`: every requested message was evicted; nothing sent.
 * - `'not-sent'`: the request starts at or past `nextSequence`; nothing sent.
 * - `'wrong-session'`: the request names another session; nothing sent.
 */
export type MoldReplyStatus = 'served' | 'partial' | 'evicted' | 'not-sent' | 'wrong-session';

/** The outcome of `MoldRetransmitStore.reply`: one object, reused and overwritten by each call. */
export interface MoldReplyInfo {
  status: MoldReplyStatus;
  /** First sequence number sent (0 when nothing was). */
  sequence: number;
  /** Messages sent (0 when nothing was). */
  count: number;
}

/** Most messages a `MoldRetransmitStore` may keep (2^24). */
export const kMoldStoreMaxCapacity = 1 << 24;
/** Default arena bytes per message of capacity (ITCH 5.0 messages are at most 50 bytes). */
export const kMoldStoreBytesPerMessage = 64;

/**
 * The re-request server's memory for one session: keeps the last `capacity` messages sent
 * (and no more than `maxBytes` bytes of them) and answers retransmission requests with
 * ordinary downstream packets. Pure logic, no sockets.
 *
 * Storage: `append` copies each message into one arena of `maxBytes` bytes allocated by the
 * constructor (a message that would run past the arena's end starts again at its beginning),
 * with its position and length in two typed arrays of `capacity` entries; nothing is allocated
 * per message. The oldest messages are evicted when `capacity` messages are stored or when
 * the new one needs their bytes. `reply` allocates its packets (retransmission is off the hot
 * path).
 *
 * Requests come from the network, so `reply` never throws on what a well-formed request asks
 * for: another session, messages not sent yet or already evicted give an empty list (or the
 * stored part) and say why in `lastReply`. It throws only on malformed arguments.
 *
 * @example
 * const store = new MoldRetransmitStore({ session: 'SESSION1', capacity: 100_000 });
 * const seq = store.append(itchMessage);                 // 1, 2, 3, …
 * for (const p of store.reply(decodeMoldRequest(datagram))) socket.send(p, port, host);
 * if (store.lastReply.status !== 'served') log(store.lastReply);
 */
export class MoldRetransmitStore {
  /** The session served (without trailing spaces). */
  readonly session: string;
  /** The most messages kept. */
  readonly capacity: number;
  /** The arena's size in bytes: the most message bytes kept. */
  readonly maxBytes: number;
  /** The outcome of the last `reply` (reused object). */
  readonly lastReply: MoldReplyInfo = { status: 'served', sequence: 0, count: 0 };
  private readonly arena: Uint8Array;
  /** Per slot ((sequence − 1) % capacity): the message's start in a never-wrapping byte count; its arena position is that modulo maxBytes. */
  private readonly starts: Float64Array;
  private readonly lengths: Uint16Array;
  private first = 1;
  private next = 1;
  /** Where the next message would start, in the never-wrapping byte count. */
  private head = 0;

  /**
   * @param options.session the session, at most 10 printable ASCII characters.
   * @param options.capacity the most messages kept, an integer in [1, 2^24].
   * @param options.maxBytes the arena's size in bytes, an integer in [1, 2^31 − 1]; default
   *   `capacity × 64`.
   * @throws TypeError/RangeError naming `options`, `options.session`, `options.capacity` or
   *   `options.maxBytes`.
   */
  constructor(options: { session: string; capacity: number; maxBytes?: number }) {
    if (options === null || typeof options !== 'object') throw invalidType('options', 'an object { session, capacity, maxBytes? }', options);
    this.session = checkSession(options.session, 'options.session').trimEnd();
    const capacity = options.capacity;
    if (typeof capacity !== 'number' || !Number.isInteger(capacity) || capacity < 1 || capacity > kMoldStoreMaxCapacity) {
      throw invalidRange('options.capacity', `an integer in [1, ${kMoldStoreMaxCapacity}]`, capacity);
    }
    const maxBytes = options.maxBytes ?? capacity * kMoldStoreBytesPerMessage;
    if (typeof maxBytes !== 'number' || !Number.isInteger(maxBytes) || maxBytes < 1 || maxBytes > 0x7fffffff) {
      throw invalidRange('options.maxBytes', 'an integer in [1, 2^31 - 1]', maxBytes);
    }
    this.capacity = capacity;
    this.maxBytes = maxBytes;
    this.arena = new Uint8Array(maxBytes);
    this.starts = new Float64Array(capacity);
    this.lengths = new Uint16Array(capacity);
  }

  /** The sequence number the next `append` returns (one past the last message sent). */
  get nextSequence(): number {
    return this.next;
  }

  /** The oldest sequence number still stored (equal to `nextSequence` when none is). */
  get firstSequence(): number {
    return this.first;
  }

  /** Messages stored now. */
  get size(): number {
    return this.next - this.first;
  }

  /**
   * Copies `message` into the store and returns its sequence number (1 for the first),
   * evicting the oldest messages as needed. Allocates nothing.
   * @throws TypeError/RangeError naming `message` (not a Uint8Array) or `message.length`
   *   (over 65535 bytes or over `maxBytes`); RangeError naming `sequence` past 2^53 − 1.
   */
  append(message: Uint8Array): number {
    if (!(message instanceof Uint8Array)) throw invalidType('message', 'a Uint8Array', message);
    const length = message.length;
    if (length > kMoldMaxMessageBytes) throw invalidRange('message.length', 'at most 65535 bytes', length);
    if (length > this.maxBytes) throw invalidRange('message.length', `at most maxBytes = ${this.maxBytes} bytes`, length);
    const sequence = this.next;
    if (sequence > kMoldMaxSequence) throw invalidRange('sequence', 'a sequence number within 2^53 - 1', sequence);
    let start = this.head;
    const at = start % this.maxBytes;
    if (at + length > this.maxBytes) start += this.maxBytes - at; // keep each message contiguous
    const end = start + length;
    while (this.first < sequence) {
      const oldest = (this.first - 1) % this.capacity;
      if (sequence - this.first < this.capacity && end - this.starts[oldest]! <= this.maxBytes) break;
      this.first++;
    }
    const slot = (sequence - 1) % this.capacity;
    this.starts[slot] = start;
    this.lengths[slot] = length;
    this.arena.set(message, start % this.maxBytes);
    this.head = end;
    this.next = sequence + 1;
    return sequence;
  }

  /**
   * The downstream packets answering `request` (as from `decodeMoldRequest`): the requested
   * messages still stored, from `request.sequence` (or the oldest stored, when earlier ones
   * were evicted) up to the last one sent, packed into as few packets as fit `mtu`. An empty
   * list when nothing requested is stored. `lastReply` says what was sent and why not all.
   * @throws TypeError/RangeError naming `request`, `request.session`, `request.sequence`,
   *   `request.count` (an integer in [1, 65535]) or `mtu` (also when a stored message is too
   *   long for a packet of `mtu` bytes).
   * @example
   * const packets = store.reply({ session: 'SESSION1', sequence: 500, count: 20 });
   */
  reply(request: MoldRequest, mtu = kMoldDefaultMtu): Uint8Array[] {
    const { sequence, count } = checkRequest(request);
    const session = request.session.trimEnd();
    checkMtu(mtu);
    const info = this.lastReply;
    info.sequence = 0;
    info.count = 0;
    if (session !== this.session) {
      info.status = 'wrong-session';
      return [];
    }
    if (sequence >= this.next) {
      info.status = 'not-sent';
      return [];
    }
    const wantedEnd = sequence + count;
    if (wantedEnd <= this.first) {
      info.status = 'evicted';
      return [];
    }
    const from = Math.max(sequence, this.first);
    const to = Math.min(wantedEnd, this.next);
    const views: Uint8Array[] = [];
    for (let s = from; s < to; s++) {
      const slot = (s - 1) % this.capacity;
      const at = this.starts[slot]! % this.maxBytes;
      const length = this.lengths[slot]!;
      if (length > mtu - 22) throw invalidRange('mtu', `at least ${length + 22} to carry stored message ${s} (${length} bytes)`, mtu);
      views.push(this.arena.subarray(at, at + length));
    }
    info.status = from === sequence && to === wantedEnd ? 'served' : 'partial';
    info.sequence = from;
    info.count = to - from;
    return packMoldPackets(this.session, from, views, mtu);
  }
}
