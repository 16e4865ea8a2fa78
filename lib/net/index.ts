// lib/net: codecs and transports (DESIGN.md "Codecs and transports").
export * from './itch.js';
export * from './moldudp64.js';
export * from './packet-source.js';
export * from './feed.js';
export * from './tcp.js';
