/**
 * MoldUDP64 decoders under the decoder fuzzer (run.ts): downstream packets (messages,
 * heartbeat, end of session) and retransmission requests, TS.
 */
import { encodeItchFile } from '../../../lib/net/itch.js';
import {
  decodeMoldPacket,
  decodeMoldRequest,
  encodeMoldEndOfSession,
  encodeMoldHeartbeat,
  encodeMoldPacket,
  encodeMoldRequest,
  packMoldPackets,
} from '../../../lib/net/moldudp64.js';

import { isByteOffsetError, itchSampleMessages } from './itch.target.js';
import type { DecoderTarget } from './types.js';

const itch = itchSampleMessages().map((m) => encodeItchFile([m]).subarray(2));

const packetSeeds: Uint8Array[] = [
  ...packMoldPackets('SESSION1', 1, itch),
  encodeMoldPacket({ session: 'S', sequence: 2 ** 53 - 3, messages: itch.slice(0, 3) }),
  encodeMoldPacket({ session: 'EMPTYMSGS', sequence: 42, messages: [new Uint8Array(0), itch[0]!, new Uint8Array(0)] }),
  encodeMoldHeartbeat('SESSION1', 1000),
  encodeMoldEndOfSession('SESSION1', 1000),
];

const requestSeeds: Uint8Array[] = [
  encodeMoldRequest({ session: 'SESSION1', sequence: 1, count: 1 }),
  encodeMoldRequest({ session: 'ABC', sequence: 123_456_789, count: 65535 }),
  encodeMoldRequest({ session: '0123456789', sequence: 2 ** 53 - 1, count: 20 }),
];

export const targets: DecoderTarget[] = [
  {
    name: 'moldudp64 packet ts',
    backend: 'ts',
    seeds: packetSeeds,
    decode: (bytes) => decodeMoldPacket(bytes),
    isCleanError: isByteOffsetError,
  },
  {
    name: 'moldudp64 request ts',
    backend: 'ts',
    seeds: requestSeeds,
    decode: (bytes) => decodeMoldRequest(bytes),
    isCleanError: isByteOffsetError,
  },
];
