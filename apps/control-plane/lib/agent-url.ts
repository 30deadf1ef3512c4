/**
 * Why the control-plane URL printed for agents may not work for them: a loopback host (an agent
 * on another host would reach itself) or plain http (the enrollment token and the agent secret
 * would cross the network unencrypted).
 */
export interface AgentUrlProblems {
  /** The host is localhost, 127.0.0.0/8, ::1 (or the unspecified 0.0.0.0 / ::). */
  loopback: boolean;
  /** The scheme is http:. */
  plainHttp: boolean;
}

const IPV4_LOOPBACK = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** Whether `hostname` (as `URL.hostname` gives it: IPv6 in brackets) is loopback or unspecified. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (IPV4_LOOPBACK.test(h) || h === '0.0.0.0') return true;
  if (h === '[::1]' || h === '[::]') return true;
  // IPv4-mapped loopback, which URL writes in hex: [::ffff:7f00:1] is 127.0.0.1.
  return /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(h) || /^\[::ffff:127\./.test(h);
}

/** What is wrong with `server` as the URL agents are told to use; an unparsable URL has neither problem. */
export function agentUrlProblems(server: string): AgentUrlProblems {
  if (!URL.canParse(server)) return { loopback: false, plainHttp: false };
  const url = new URL(server);
  return { loopback: isLoopbackHost(url.hostname), plainHttp: url.protocol === 'http:' };
}
