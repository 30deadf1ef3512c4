import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { Answer, Packet, Question } from 'dns-packet';

/** A record the fake server answers with (the `dns-packet` answer shape without the class). */
export type FakeRecord =
  | { type: 'A' | 'AAAA' | 'NS' | 'CNAME'; data: string; ttl?: number }
  | { type: 'SRV'; data: { priority?: number; weight?: number; port: number; target: string }; ttl?: number }
  | { type: 'MX'; data: { preference?: number; exchange: string }; ttl?: number };

/** A response code the server can be told to give for a name instead of its records. */
export type FakeRcode = 'SERVFAIL' | 'REFUSED' | 'NXDOMAIN';

const RCODES: Record<FakeRcode, number> = { NXDOMAIN: 3, SERVFAIL: 2, REFUSED: 5 };

/** One question the server received. */
export interface LoggedQuery {
  transport: 'udp' | 'tcp';
  name: string;
  type: string;
}

const norm = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/**
 * A small authoritative DNS server for tests, on 127.0.0.1 (UDP and TCP on the same OS-chosen
 * port). Names without records answer NXDOMAIN; a known name without records of the asked type
 * answers NOERROR with no answers (NODATA). UDP answers over 512 bytes are sent truncated (TC)
 * so that clients retry over TCP.
 */
export class FakeDnsServer {
  private readonly records = new Map<string, FakeRecord[]>();
  private readonly rcodes = new Map<string, FakeRcode>();
  private udp: Socket | null = null;
  private tcp: Server | null = null;
  private readonly tcpSockets = new Set<TcpSocket>();
  /** Every question received, in order. */
  readonly queries: LoggedQuery[] = [];
  /** `127.0.0.1:<port>` once started. */
  address = '';

  /** Replaces the records of a name (and clears any forced response code for it). */
  set(name: string, records: FakeRecord[]): void {
    this.records.set(norm(name), records);
    this.rcodes.delete(norm(name));
  }

  /** Removes a name: it answers NXDOMAIN. */
  remove(name: string): void {
    this.records.delete(norm(name));
    this.rcodes.delete(norm(name));
  }

  /** Makes every question about a name answer with this response code. */
  fail(name: string, rcode: FakeRcode): void {
    this.rcodes.set(norm(name), rcode);
  }

  /** Binds UDP and TCP on one free loopback port. */
  async start(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const udp = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(0, '127.0.0.1', () => resolve());
      });
      const port = udp.address().port;
      const tcp = createServer((s) => this.serveTcp(s));
      const ok = await new Promise<boolean>((resolve) => {
        tcp.once('error', () => resolve(false));
        tcp.listen(port, '127.0.0.1', () => resolve(true));
      });
      if (!ok) {
        udp.close();
        if (attempt > 20) throw new Error('no port free for both UDP and TCP');
        continue;
      }
      udp.on('message', (msg, rinfo) => {
        const reply = this.answer(msg, 'udp');
        if (reply) udp.send(reply, rinfo.port, rinfo.address);
      });
      this.udp = udp;
      this.tcp = tcp;
      this.address = `127.0.0.1:${port}`;
      return;
    }
  }

  /** Closes both sockets. */
  async stop(): Promise<void> {
    for (const s of this.tcpSockets) s.destroy();
    await Promise.all([
      new Promise<void>((r) => (this.udp ? this.udp.close(() => r()) : r())),
      new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r())),
    ]);
  }

  private serveTcp(socket: TcpSocket): void {
    this.tcpSockets.add(socket);
    socket.on('close', () => this.tcpSockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const reply = this.answer(msg, 'tcp');
        if (reply) {
          const framed = Buffer.alloc(2 + reply.length);
          framed.writeUInt16BE(reply.length, 0);
          reply.copy(framed, 2);
          socket.write(framed);
        }
      }
    });
  }

  private answer(msg: Buffer, transport: 'udp' | 'tcp'): Buffer | null {
    let query: Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return null;
    }
    const question = query.questions?.[0];
    if (!question) return null;
    this.queries.push({ transport, name: norm(question.name), type: question.type });
    const { rcode, answers } = this.lookup(question);
    const response: Packet = {
      id: query.id ?? 0,
      type: 'response',
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcode,
      questions: [question],
      answers,
    };
    const full = dnsPacket.encode(response);
    if (transport === 'udp' && full.length > 512) {
      return dnsPacket.encode({ ...response, flags: (response.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [] });
    }
    return full;
  }

  private lookup(question: Question): { rcode: number; answers: Answer[] } {
    const name = norm(question.name);
    const forced = this.rcodes.get(name);
    if (forced) return { rcode: RCODES[forced], answers: [] };
    const records = this.records.get(name);
    if (!records) return { rcode: RCODES.NXDOMAIN, answers: [] };
    const answers: Answer[] = [];
    // A CNAME answers every type, followed by the target's records (as a recursive server would).
    const cname = records.find((r) => r.type === 'CNAME');
    if (cname && question.type !== 'CNAME') {
      answers.push({ type: 'CNAME', name: question.name, ttl: 5, class: 'IN', data: cname.data as string });
      for (const r of this.records.get(norm(cname.data as string)) ?? []) {
        if (r.type === question.type) answers.push(this.toAnswer(cname.data as string, r));
      }
      return { rcode: 0, answers };
    }
    for (const r of records) if (r.type === question.type) answers.push(this.toAnswer(question.name, r));
    return { rcode: 0, answers };
  }

  private toAnswer(name: string, r: FakeRecord): Answer {
    const ttl = r.ttl ?? 5;
    switch (r.type) {
      case 'SRV':
        return { type: 'SRV', name, ttl, class: 'IN', data: { priority: r.data.priority ?? 10, weight: r.data.weight ?? 10, port: r.data.port, target: r.data.target } };
      case 'MX':
        return { type: 'MX', name, ttl, class: 'IN', data: { preference: r.data.preference ?? 10, exchange: r.data.exchange } };
      default:
        return { type: r.type, name, ttl, class: 'IN', data: r.data } as Answer;
    }
  }
}
