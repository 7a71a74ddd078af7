import {
  AckFrame,
  type ClientFrame,
  HelloFrame,
  HushError,
  MAX_FRAME_BYTES,
  PingFrame,
  PresenceSubFrame,
  SendFrame,
  type ServerFrame,
} from '@hush/protocol';
import type { TSchema } from '@sinclair/typebox';
import { Ajv, type ValidateFunction } from 'ajv';

/**
 * Client frame parsing: size first (cheap), then JSON, then the `type` switch, then the frame's own
 * schema (compiled once). Every failure is a HushError with the code the client sees in its error
 * frame; none of them closes the socket (docs/PROTOCOL-WIRE.md, "Errors").
 */
const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false, removeAdditional: false });

const validators: Record<ClientFrame['type'], ValidateFunction> = {
  hello: ajv.compile(HelloFrame as TSchema),
  send: ajv.compile(SendFrame as TSchema),
  ack: ajv.compile(AckFrame as TSchema),
  ping: ajv.compile(PingFrame as TSchema),
  'presence.sub': ajv.compile(PresenceSubFrame as TSchema),
};

export interface ParsedFrame {
  frame?: ClientFrame;
  /** The frame's `id` when it had a usable one, so an error can name the send it refers to. */
  id?: string;
  error?: HushError;
}

export function parseFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): ParsedFrame {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  if (buf.byteLength > MAX_FRAME_BYTES) {
    return { error: new HushError('GW_FRAME_TOO_LARGE', `Frames are limited to ${MAX_FRAME_BYTES} bytes`) };
  }
  if (isBinary) return { error: new HushError('GW_BAD_FRAME', 'Frames are JSON text frames') };
  let value: unknown;
  try {
    value = JSON.parse(buf.toString('utf8'));
  } catch {
    return { error: new HushError('GW_BAD_FRAME', 'The frame is not valid JSON') };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { error: new HushError('GW_BAD_FRAME', 'A frame is a JSON object') };
  }
  const obj = value as Record<string, unknown>;
  const id = typeof obj.id === 'string' && obj.id.length <= 64 ? obj.id : undefined;
  const type = obj.type;
  if (typeof type !== 'string') return { id, error: new HushError('GW_BAD_FRAME', 'A frame needs a "type"') };
  const validate = Object.hasOwn(validators, type) ? validators[type as ClientFrame['type']] : undefined;
  if (!validate) {
    return { id, error: new HushError('GW_UNKNOWN_FRAME', `Unknown frame type "${type.slice(0, 32)}"`) };
  }
  if (!validate(obj)) {
    const first = validate.errors?.[0];
    const where = first ? `${first.instancePath || '/'} ${first.message ?? ''}`.trim() : '';
    return { id, error: new HushError('GW_BAD_FRAME', `The ${type} frame is invalid: ${where}`.slice(0, 200)) };
  }
  return { frame: obj as ClientFrame, id };
}

export function errorFrame(e: HushError, id?: string): ServerFrame {
  const f: ServerFrame = { type: 'error', code: e.code, message: e.message };
  if (id !== undefined) f.id = id;
  if (e.retryAfter !== undefined) f.retryAfter = e.retryAfter;
  return f;
}
