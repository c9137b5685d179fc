/**
 * gRPC messages assembled as they arrive, for the grpc-js instance the Milvus SDK uses.
 *
 * grpc-js's StreamDecoder (1.14) keeps every DATA chunk of a message until its last byte has arrived, then
 * concatenates them. Each chunk is a view of one of Node's 64 KiB HTTP/2 read buffers. An all-jobs answer
 * (about 4 MB for 24,000 retained jobs, one per endpoint per poll) arrives in some 60 reads over many turns of
 * the event loop, and the young collections in between promote the read buffers to the old generation: there
 * they wait, dead, for a full collection (docs/scale.md). {@link MessageAssembler} allocates the message once
 * its length is read and copies each chunk into it at once, the copy the concatenation made anyway, so a read
 * buffer is garbage as soon as the chunk is copied and a young collection frees it.
 *
 * The messages it returns are those StreamDecoder returns: the 5-byte frame header (compression flag, length)
 * then the message, in a buffer of their own once they reach Node's pool threshold.
 */
import { createRequire } from 'node:module';

/** gRPC's length-prefixed framing: a compression flag and a 4-byte big-endian length. */
const HEADER_BYTES = 5;

export class MessageAssembler {
  private readonly maxLength: number;
  /** Bytes of the current frame header read so far (0-5). */
  private headerRead = 0;
  private flag = 0;
  private length = 0;
  private message: Buffer | undefined;
  private filled = 0;

  /** `maxLength`: the largest message accepted, in bytes; -1 for no limit (grpc-js's convention). */
  constructor(maxLength: number) {
    this.maxLength = maxLength;
  }

  /** The messages that `data` completes, each framed; throws when a message is longer than allowed. */
  write(data: Buffer): Buffer[] {
    const done: Buffer[] = [];
    let at = 0;
    while (at < data.length) {
      if (this.message === undefined) {
        const byte = data[at++]!;
        if (this.headerRead === 0) {
          this.flag = byte;
          this.length = 0;
        } else {
          this.length = this.length * 256 + byte;
        }
        if (++this.headerRead < HEADER_BYTES) continue;
        this.headerRead = 0;
        if (this.maxLength !== -1 && this.length > this.maxLength)
          // grpc-js's wording: the call then fails with RESOURCE_EXHAUSTED and this message.
          throw new Error(`Received message larger than max (${this.length} vs ${this.maxLength})`);
        const message = Buffer.allocUnsafe(HEADER_BYTES + this.length);
        message[0] = this.flag;
        message.writeUInt32BE(this.length, 1);
        if (this.length === 0) done.push(message);
        else {
          this.message = message;
          this.filled = HEADER_BYTES;
        }
      } else {
        const n = Math.min(data.length - at, this.message.length - this.filled);
        data.copy(this.message, this.filled, at, at + n);
        this.filled += n;
        at += n;
        if (this.filled === this.message.length) {
          done.push(this.message);
          this.message = undefined;
        }
      }
    }
    return done;
  }
}

interface StreamDecoderLike {
  maxReadMessageLength: number;
  write(data: Buffer): Buffer[];
}

const ASSEMBLER = Symbol('MessageAssembler');

/**
 * Makes grpc-js's StreamDecoder, of the grpc-js whose main module is `grpcMain`, assemble with a
 * {@link MessageAssembler}. Returns false, changing nothing, when that grpc-js has no StreamDecoder of the
 * known shape (another version): it then decodes as it always did.
 */
export function assembleMessagesAsTheyArrive(grpcMain: string): boolean {
  let decoder: { StreamDecoder?: { prototype: StreamDecoderLike } };
  try {
    decoder = createRequire(grpcMain)('./stream-decoder.js') as typeof decoder;
  } catch {
    return false;
  }
  const proto = decoder.StreamDecoder?.prototype;
  if (typeof proto?.write !== 'function') return false;
  if ((proto.write as { assembles?: true }).assembles) return true;
  const write = function (this: StreamDecoderLike & { [ASSEMBLER]?: MessageAssembler }, data: Buffer): Buffer[] {
    return (this[ASSEMBLER] ??= new MessageAssembler(this.maxReadMessageLength)).write(data);
  };
  proto.write = Object.assign(write, { assembles: true as const });
  return true;
}
