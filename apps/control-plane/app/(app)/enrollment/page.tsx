import type { Metadata } from 'next';
import Link from 'next/link';

export const metadata: Metadata = { title: 'Enrollment' };

/** Enrollment tokens belong to the next release; say so plainly. */
export default function EnrollmentPage() {
  return (
    <>
      <div className="page-header">
        <div>
          <h1>Enrollment</h1>
          <p className="page-desc">Tokens that let agents on EC2 and EKS join this control plane.</p>
        </div>
      </div>
      <div className="state empty">
        <p className="state-title">No agents enrolled yet.</p>
        <p>Enrollment tokens arrive in the next release of this control plane.</p>
        <p>
          Until then, agents run from a local config file (<code>npx fleet-agent run --config agent.yml</code>); you can already
          write their <Link href="/pipelines">pipelines</Link> and generate their <Link href="/policies">IAM policies</Link>.
        </p>
      </div>
    </>
  );
}
