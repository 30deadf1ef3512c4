'use client';
import { useSyncExternalStore } from 'react';
import { agentUrlProblems } from '@/lib/agent-url';
import { CodeBlock } from '@/lib/ui/copy';

const noSubscription = () => () => undefined;

/** The public URL of this control plane as the browser reached it (agents use the same one). */
export function useServerUrl(): string {
  return useSyncExternalStore(
    noSubscription,
    () => window.location.origin,
    () => 'https://control-plane.example.com',
  );
}

/** Name of the Kubernetes Secret the hint creates. */
const K8S_SECRET = 'fleet-enrollment-token';

/** The ready-to-paste commands for a host (and an EKS cluster) to join with `token`. */
export function installCommands(server: string, token: string) {
  return {
    enroll: `fleet-agent enroll --server ${server} --token ${token}`,
    run: `fleet-agent run --server ${server}`,
    env: `FLEET_SERVER=${server} FLEET_ENROLLMENT_TOKEN=${token} fleet-agent enroll`,
    k8sSecret: `kubectl create secret generic ${K8S_SECRET} --namespace fleet-system --from-literal=token=${token}`,
    k8sEnv: `env:
  - name: FLEET_SERVER
    value: ${server}
  - name: FLEET_ENROLLMENT_TOKEN
    valueFrom:
      secretKeyRef:
        name: ${K8S_SECRET}
        key: token`,
  };
}

/**
 * A visible warning when the URL the commands give agents will not serve them: a loopback
 * address (agents elsewhere would reach themselves) or plain http (the token and the agent's
 * secret would cross the network unencrypted), with what to do. Nothing when it is fine.
 */
export function AgentUrlWarning({ server }: { server: string }) {
  const { loopback, plainHttp } = agentUrlProblems(server);
  if (!loopback && !plainHttp) return null;
  const host = new URL(server).host;
  return (
    <div className="notice warn" role="note" data-testid="agent-url-warning">
      {loopback ? (
        <p style={{ margin: 0 }}>
          <strong>Agents on other hosts cannot reach {host}:</strong> it is a loopback address, so an agent elsewhere would try to reach itself. These commands use
          the address this page was opened at: open the control plane at the address agents reach it by (the one <code>PUBLIC_URL</code> is set to, e.g.{' '}
          <code>https://fleet.example.com</code>) and copy them from there.
        </p>
      ) : (
        <p style={{ margin: 0 }}>
          <strong>The enrollment token and the agent&apos;s secret would travel unencrypted:</strong> {server} is plain http. Serve the control plane over HTTPS (
          <code>TLS_CERT_FILE</code> and <code>TLS_KEY_FILE</code>, or a TLS load balancer in front with <code>PUBLIC_URL</code> set to its <code>https://</code>{' '}
          address), open this page at that address and copy the commands from there. Agents trust a private CA with <code>--ca-file</code>.
        </p>
      )}
    </div>
  );
}

/**
 * How to install with a token: the two commands for a host, the same with environment
 * variables, and the Kubernetes way (the token in a Secret, read into FLEET_ENROLLMENT_TOKEN).
 * Warns first when the URL will not serve agents (see {@link AgentUrlWarning}).
 */
export function InstallCommands({ token, server }: { token: string; server: string }) {
  const c = installCommands(server, token);
  return (
    <div data-testid="install-commands">
      <AgentUrlWarning server={server} />
      <h3 className="small" style={{ margin: '0 0 6px' }}>
        On the host (EC2 or any Linux machine)
      </h3>
      <p className="hint" style={{ marginBottom: 8 }}>
        Enroll once, then start the agent; it keeps its id and secret in its state directory (<code>data-agent/agent.json</code>, mode 0600).
      </p>
      <CodeBlock title="1. Enroll" text={c.enroll} what="enroll command" testId="install-enroll" />
      <CodeBlock title="2. Run" text={c.run} what="run command" testId="install-run" />
      <CodeBlock title="Or with environment variables" text={c.env} what="enroll command with environment variables" testId="install-env" />
      <h3 className="small" style={{ margin: '4px 0 6px' }}>
        On Kubernetes (EKS)
      </h3>
      <p className="hint" style={{ marginBottom: 8 }}>
        Keep the token in a Secret in the agent&apos;s namespace (<code>fleet-system</code> here) and give it to the agent&apos;s container as{' '}
        <code>FLEET_ENROLLMENT_TOKEN</code>, with <code>FLEET_SERVER</code> set to this control plane:
      </p>
      <CodeBlock title="Secret" text={c.k8sSecret} what="kubectl command that creates the Secret" testId="install-k8s-secret" />
      <CodeBlock title="Container env (DaemonSet)" text={c.k8sEnv} what="container environment" testId="install-k8s-env" />
    </div>
  );
}
