import { cliScript, generateCliCommands, shellQuote, type CliCommand, type IamPolicyDocument } from '@fleet/aws';
import { artifactNames, downloadUrl, KUBERNETES_INSTALL } from '@fleet/protocol';
import { stringify } from 'yaml';

/**
 * Shell steps of the install wizards that may be run again: each checks what exists first, so the
 * same script works whether the role, the instance profile or the association exists or not. The
 * `aws iam` lines themselves come from `@fleet/aws`'s {@link generateCliCommands}.
 */

/** A role to create or bring up to date: its trust, its inline permissions (none: no AWS destination). */
export interface RoleSetup {
  roleName: string;
  trustPolicy: IamPolicyDocument;
  permissionsPolicy: IamPolicyDocument | null;
  /** EC2: also an instance profile of the same name holding the role. */
  instanceProfile?: boolean | undefined;
}

const find = (commands: readonly CliCommand[], verb: string): CliCommand => {
  const c = commands.find((x) => x.command.startsWith(`aws iam ${verb} `));
  if (!c) throw new Error(`generateCliCommands gave no ${verb} command`);
  return c;
};

/**
 * The idempotent steps for one role: `get-role || create-role`, then `update-assume-role-policy`
 * (the trust is this one also when the role existed), `put-role-policy` (replaces the inline policy),
 * and for EC2 `get-instance-profile || create-instance-profile` and `add-role-to-instance-profile`
 * unless the role is in it already. No permissions policy: no `put-role-policy`.
 */
export function roleSteps(setup: RoleSetup): CliCommand[] {
  const name = shellQuote(setup.roleName);
  // generateCliCommands needs a permissions policy; a trust-only role uses a stand-in it never prints.
  const stand: IamPolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' }] };
  const perms = setup.permissionsPolicy ?? stand;
  const policyName = `${setup.roleName}-write`;
  const created = generateCliCommands({ roleName: setup.roleName, trustPolicy: setup.trustPolicy, permissionsPolicy: perms, policyName, instanceProfile: setup.instanceProfile });
  const updated = generateCliCommands({ roleName: setup.roleName, trustPolicy: setup.trustPolicy, permissionsPolicy: perms, policyName, mode: 'update' });
  const steps: CliCommand[] = [
    { title: `Create the role ${setup.roleName} unless it exists`, command: `aws iam get-role --role-name ${name} >/dev/null 2>&1 || ${find(created, 'create-role').command}` },
    { title: `Make its trust policy this one (also when the role existed)`, command: find(updated, 'update-assume-role-policy').command },
  ];
  if (setup.permissionsPolicy) {
    steps.push({ title: `Put the inline permissions policy ${policyName} (replaces it when present)`, command: find(created, 'put-role-policy').command });
  }
  if (setup.instanceProfile) {
    const query = shellQuote(`length(InstanceProfile.Roles[?RoleName==\`${setup.roleName}\`])`);
    steps.push(
      {
        title: `Create the instance profile ${setup.roleName} unless it exists`,
        command: `aws iam get-instance-profile --instance-profile-name ${name} >/dev/null 2>&1 || ${find(created, 'create-instance-profile').command}`,
      },
      {
        title: `Add the role to the instance profile unless it is in it`,
        command: `if [ "$(aws iam get-instance-profile --instance-profile-name ${name} --query ${query} --output text)" = 0 ]; then\n  ${find(created, 'add-role-to-instance-profile').command}\nfi`,
      },
    );
  }
  return steps;
}

/** `aws ec2 associate-iam-instance-profile` for one instance, unless it has an instance profile already. */
export function associateInstanceStep(instanceId: string, profile: string, region: string | undefined): CliCommand {
  const r = region ? ` --region ${shellQuote(region)}` : '';
  const id = shellQuote(instanceId);
  const query = shellQuote('length(IamInstanceProfileAssociations)');
  return {
    title: `Give the instance ${instanceId} the instance profile (unless it has one: then replace it with replace-iam-instance-profile-association)`,
    command: `if [ "$(aws ec2 describe-iam-instance-profile-associations --filters Name=instance-id,Values=${id} Name=state,Values=associated --query ${query} --output text${r})" = 0 ]; then\n  aws ec2 associate-iam-instance-profile --instance-id ${id} --iam-instance-profile Name=${shellQuote(profile)}${r}\nfi`,
  };
}

/** Where an EKS install runs. */
export interface EksTarget {
  clusterName: string;
  namespace: string;
  serviceAccount: string;
  region: string;
}

/** IRSA: the cluster's OIDC issuer as an IAM identity provider (eksctl skips it when it is there). */
export function oidcProviderStep(t: EksTarget): CliCommand {
  return {
    title: `Register the OIDC issuer of ${t.clusterName} as an IAM identity provider (once per cluster; nothing happens when it is registered)`,
    command: `eksctl utils associate-iam-oidc-provider --cluster ${shellQuote(t.clusterName)} --region ${shellQuote(t.region)} --approve`,
  };
}

/** Pod Identity: the agent add-on, then the association of the service account with the role, each unless present. */
export function podIdentitySteps(t: EksTarget, roleArn: string): CliCommand[] {
  const c = `--cluster-name ${shellQuote(t.clusterName)}`;
  const r = `--region ${shellQuote(t.region)}`;
  const sa = `--namespace ${shellQuote(t.namespace)} --service-account ${shellQuote(t.serviceAccount)}`;
  return [
    {
      title: 'Install the EKS Pod Identity Agent add-on unless it is installed',
      command: `aws eks describe-addon ${c} --addon-name eks-pod-identity-agent ${r} >/dev/null 2>&1 || aws eks create-addon ${c} --addon-name eks-pod-identity-agent ${r}`,
    },
    {
      title: `Associate ${t.namespace}/${t.serviceAccount} with the role unless it is associated`,
      command: `if [ "$(aws eks list-pod-identity-associations ${c} ${sa} --query ${shellQuote('length(associations)')} --output text ${r})" = 0 ]; then\n  aws eks create-pod-identity-association ${c} ${sa} --role-arn ${shellQuote(roleArn)} ${r}\nfi`,
    },
  ];
}

/** The steps as one script (`#!/bin/sh`, `set -eu`, a comment per step), as the Policies page gives them. */
export function stepsScript(steps: readonly CliCommand[]): string {
  return steps.length ? cliScript(steps) : '';
}

/** Name of the values file the Helm command reads. */
export const HELM_VALUES_FILE = 'fleet-agent-values.yaml';

/** Inputs of the Helm values (the chart's contract: exactly these keys). */
export interface HelmValuesInput {
  server: string;
  caBundle: string;
  labels: Readonly<Record<string, string>>;
  clusterName: string;
  namespace: string;
  serviceAccount: string;
  region: string;
  /** IRSA only: the role the service account is annotated with. */
  roleArn?: string | undefined;
  workload: 'daemonset' | 'deployment';
}

/** The chart's values file: control plane, the token from the Secret, labels, service account, AWS, workload. */
export function helmValues(v: HelmValuesInput): string {
  const doc = {
    controlPlane: { url: v.server.replace(/\/+$/, ''), caBundle: v.caBundle },
    enrollment: { existingSecret: KUBERNETES_INSTALL.tokenSecret, labels: { ...v.labels } },
    clusterName: v.clusterName,
    serviceAccount: { name: v.serviceAccount, create: true },
    aws: { region: v.region, ...(v.roleArn ? { roleArn: v.roleArn } : {}) },
    daemonset: { enabled: v.workload === 'daemonset' },
    deployment: { enabled: v.workload === 'deployment' },
  };
  return stringify(doc, { lineWidth: 0 });
}

/** `helm upgrade --install` of this control plane's chart (agent and control plane are released together). */
export function helmCommand(server: string, version: string, namespace: string): string {
  const chart = downloadUrl(server, version, artifactNames(version).helmChart);
  return `helm upgrade --install ${KUBERNETES_INSTALL.release} ${shellQuote(chart)} --namespace ${shellQuote(namespace)} --create-namespace -f ${HELM_VALUES_FILE}`;
}
