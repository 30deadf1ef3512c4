/**
 * @fleet/gateway — the agent-facing side of the control plane, mounted at `/agent/v1/` by the
 * control-plane server: enrollment over HTTP now; the WebSocket channel (config push,
 * heartbeats, session registry, fan-out between replicas) comes with the rest of issue 5.
 */
export { createGatewayHttpHandler, type GatewayOptions } from './http.js';
export { RateLimiter } from './rate-limit.js';
