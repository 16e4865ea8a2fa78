// lib/net: codecs and transports (DESIGN.md "Codecs and transports"). So far: the ITCH 5.0 decoder.
export * from './itch.js';
