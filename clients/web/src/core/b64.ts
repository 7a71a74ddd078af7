/** The project's one base64 (@hush/protocol), under the names the web client uses. */
export { base64Bytes as b64Bytes, fromBase64 as fromB64, toBase64 as toB64 } from '@hush/protocol';
