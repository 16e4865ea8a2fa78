// lib/net: codecs and transports (DESIGN.md "Codecs and transports"). So far: the ITCH 5.0 decoder and MoldUDP64.
export * from './itch.js';
export * from './moldudp64.js';
