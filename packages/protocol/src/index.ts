/**
 * @fleet/protocol — the agent ⇄ control-plane protocol: enrollment over HTTP and the messages of
 * the WebSocket channel, versioned (`v`) and validated with zod on both sides. Parsers never
 * throw: bad frames become a one-line error naming the field, answered with an `error` message.
 */
export * from './messages.js';
export * from './text.js';
export * from './deployment.js';
