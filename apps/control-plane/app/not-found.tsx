import Link from 'next/link';

export default function NotFound() {
  return (
    <main id="main" className="centered">
      <section className="card" aria-labelledby="nf">
        <h1 id="nf">Page not found</h1>
        <p>There is nothing at this address.</p>
        <p>
          <Link href="/">Go to the fleet overview</Link>
        </p>
      </section>
    </main>
  );
}
