/**
 * @fleet/gateway — the agent-facing side of the control plane, mounted at `/agent/v1/` by the
 * control-plane server: enrollment over HTTP (`POST /agent/v1/enroll`, and
 * `POST /agent/v1/enroll/challenge` for AWS identity proofs) and the agent WebSocket channel (config push,
 * config status, heartbeats, session registry, fan-out between replicas via PostgreSQL NOTIFY).
 */
export { createGatewayHttpHandler, type GatewayOptions } from './http.js';
export { AgentChannel, CHANNEL_PATH, AGENT_ID_HEADER, CLOSE, type AgentChannelOptions } from './channel.js';
