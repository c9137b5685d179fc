import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { MessageAssembler, assembleMessagesAsTheyArrive } from '../../../src/adapters/grpc-assembly.js';
import { exposeGc } from '../../support/gc.js';

const require = createRequire(import.meta.url);
// The grpc-js the Milvus SDK uses, and its decoder as grpc-js wrote it (kept before any test installs ours).
const grpcMain = createRequire(require.resolve('@zilliz/milvus2-sdk-node')).resolve('@grpc/grpc-js');
type Decoder = { write: (data: Buffer) => Buffer[] };
const { StreamDecoder } = createRequire(grpcMain)('./stream-decoder.js') as {
  StreamDecoder: { new (max: number): Decoder; prototype: Decoder };
};
const grpcWrite = StreamDecoder.prototype.write;
const grpcDecoder = (max: number): Decoder => {
  const d = new StreamDecoder(max);
  d.write = grpcWrite;
  return d;
};

/** A small seeded generator (mulberry32): the same cuts on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const frame = (flag: number, body: Buffer): Buffer => {
  const header = Buffer.alloc(5);
  header[0] = flag;
  header.writeUInt32BE(body.length, 1);
  return Buffer.concat([header, body]);
};

describe('gRPC messages assembled as they arrive', () => {
  it("returns what grpc-js's decoder returns, however the stream is cut", () => {
    const rnd = random(7);
    const sizes = [0, 1, 4, 5, 300, 5_000, 65_536, 70_000, 250_000];
    for (let trial = 0; trial < 40; trial++) {
      const bodies = sizes
        .map((n) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256))))
        .sort(() => rnd() - 0.5);
      const stream = Buffer.concat(bodies.map((b, i) => frame(i % 2, b)));
      // Cuts of 1 byte to 100 KB, as HTTP/2 DATA frames and socket reads split an answer.
      const chunks: Buffer[] = [];
      for (let at = 0; at < stream.length;) {
        const n = rnd() < 0.2 ? 1 + Math.floor(rnd() * 6) : 1 + Math.floor(rnd() * 100_000);
        chunks.push(Buffer.from(stream.subarray(at, at + n)));
        at += n;
      }
      const ours = new MessageAssembler(-1);
      const theirs = grpcDecoder(-1);
      const got = chunks.flatMap((c) => ours.write(c));
      const want = chunks.flatMap((c) => theirs.write(c));
      expect(got.map((m) => m.length)).toEqual(want.map((m) => m.length));
      expect(got.every((m, i) => m.equals(want[i]!))).toBe(true);
      expect(got.map((m) => m.readUInt32BE(1))).toEqual(bodies.map((b) => b.length));
    }
  });

  it("refuses a message over the limit, in grpc-js's words (the call fails with them)", () => {
    const big = frame(0, Buffer.alloc(1_001));
    expect(() => new MessageAssembler(1_000).write(big)).toThrow('Received message larger than max (1001 vs 1000)');
    expect(() => grpcDecoder(1_000).write(big)).toThrow('Received message larger than max (1001 vs 1000)');
    expect(new MessageAssembler(1_001).write(big)).toHaveLength(1);
  });

  it('holds no received chunk while a message is incomplete, where grpc-js holds them all', async () => {
    const gc = exposeGc();
    const body = Buffer.alloc(3 * 65_536, 9);
    const wire = frame(0, body);
    const pending = (decoder: Decoder): WeakRef<ArrayBuffer> => {
      // The first two of three 64 KiB reads: each a buffer of its own, as Node's HTTP/2 read buffers are.
      const first = Buffer.from(wire.subarray(0, 65_536));
      const second = Buffer.from(wire.subarray(65_536, 131_072));
      expect(decoder.write(first)).toEqual([]);
      expect(decoder.write(second)).toEqual([]);
      return new WeakRef(second.buffer);
    };
    const oursDecoder = new MessageAssembler(-1);
    const theirsDecoder = grpcDecoder(-1);
    const ours = pending(oursDecoder);
    const theirs = pending(theirsDecoder);
    await new Promise((r) => setTimeout(r, 0)); // a WeakRef's target is kept until the end of the current job
    gc();
    expect(ours.deref()).toBeUndefined();
    expect(theirs.deref()).toBeDefined();
    // Both finish the message the same.
    const last = Buffer.from(wire.subarray(131_072));
    const [a] = oursDecoder.write(last);
    const [b] = theirsDecoder.write(last);
    expect(a!.equals(b!)).toBe(true);
    expect(a!.subarray(5).equals(body)).toBe(true);
  });

  it("is installed into the SDK's grpc-js, once; a grpc-js without the known decoder is left as it is", () => {
    expect(assembleMessagesAsTheyArrive(grpcMain)).toBe(true);
    const installed = StreamDecoder.prototype.write;
    expect(installed).not.toBe(grpcWrite);
    expect(assembleMessagesAsTheyArrive(grpcMain)).toBe(true);
    expect(StreamDecoder.prototype.write).toBe(installed);
    const decoder = new StreamDecoder(-1);
    const wire = frame(1, Buffer.from('hello'));
    expect(decoder.write(wire.subarray(0, 3))).toEqual([]);
    const [message] = decoder.write(wire.subarray(3));
    expect(message!.equals(wire)).toBe(true);
    expect(assembleMessagesAsTheyArrive(require.resolve('yaml'))).toBe(false);
  });
});
