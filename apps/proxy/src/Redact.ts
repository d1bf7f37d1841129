/**
 * Keeping the proxy's real upstream key out of everything it sends back.
 *
 * An upstream that echoes the key (in an error, a list item, an audit-log
 * row) must not hand it to a caller. The key is matched not only verbatim but
 * in the escaped forms a body may carry it in: each character may be written
 * as a JSON `\uXXXX` escape (any hex case, backslashes doubled by another
 * round of JSON), `\/` for `/`, or URL-encoded as `%XX` (also `%25XX`, encoded
 * twice). A match becomes `[REDACTED]`.
 *
 * The same matcher works on whole bodies (`text`, `bytes`) and as a streaming
 * transform (`stream`) that holds back just enough of each chunk's end for a
 * key split across chunks to be caught, and passes chunks that cannot hold a
 * key through as they came.
 *
 * Bodies are matched as latin1 text: one character per byte, so a chunk cut
 * inside a UTF-8 sequence is never mangled and no decoding is paid for.
 *
 * @since 0.2.0
 */

export const replacement = "[REDACTED]"
const replacementBytes = Buffer.from(replacement, "latin1")

export interface Redactor {
  /** Whether there is a key to redact at all. */
  readonly active: boolean
  readonly text: (text: string) => string
  readonly bytes: (bytes: Uint8Array) => Uint8Array
  /** A fresh streaming redactor for one body: `push` each chunk, then `end`. */
  readonly stream: () => StreamRedactor
}

/** Where a streaming step puts its output: zero, one or more pieces per input chunk, in order. */
export type Emit = (bytes: Uint8Array) => void

export interface StreamRedactor {
  readonly push: (chunk: Uint8Array, emit: Emit) => void
  readonly end: (emit: Emit) => void
}

const hex2 = (code: number): string => code.toString(16).padStart(2, "0")

/** `[dD]` for a hex letter, the digit itself otherwise. */
const anyCase = (text: string): string =>
  [...text].map((c) => /[a-f]/i.test(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c).join("")

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")

/** Every way one byte of the key may be written. */
const byteForms = (code: number): string => {
  const literal = escapeRegExp(String.fromCharCode(code))
  if (code > 0x7f) return literal
  const forms = [literal, `\\\\{1,4}u00${anyCase(hex2(code))}`, `%(?:25){0,2}${anyCase(hex2(code))}`]
  if (code === 0x2f) forms.push("\\\\{1,4}/")
  return `(?:${forms.join("|")})`
}
/** The longest any one byte's form can be: four backslashes, `u`, four hex digits. */
const maxFormLength = 9

export const make = (key: string): Redactor => {
  const keyBytes = Buffer.from(key, "utf8")
  if (keyBytes.length === 0) {
    return {
      active: false,
      text: (text) => text,
      bytes: (bytes) => bytes,
      stream: () => ({ push: (chunk, emit) => emit(chunk), end: () => undefined })
    }
  }
  const source = [...keyBytes].map(byteForms).join("")
  const pattern = new RegExp(source, "g")
  const holdBack = keyBytes.length * maxFormLength - 1
  // Any form of the key contains one of these: its first bytes written literally, or an
  // escape (`\` or `%`) among them. A body without any cannot hold the key.
  const markers = [keyBytes.subarray(0, Math.min(3, keyBytes.length)), Buffer.from("\\"), Buffer.from("%")]
  const mayHoldKey = (bytes: Uint8Array): boolean => {
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    return markers.some((marker) => view.includes(marker))
  }

  /** `latin1` text with every form of the key replaced. */
  const replaceLatin1 = (text: string): string => {
    pattern.lastIndex = 0
    return pattern.test(text) ? text.replace(pattern, replacement) : text
  }

  const bytes = (input: Uint8Array): Uint8Array => {
    if (!mayHoldKey(input)) return input
    const text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString("latin1")
    const out = replaceLatin1(text)
    return out === text ? input : Buffer.from(out, "latin1")
  }

  // A text without any marker is returned as it is, without encoding it (a list answer, every
  // request). For a key in ASCII, its UTF-8 bytes hold a marker exactly when the text holds it.
  const ascii = keyBytes.every((byte) => byte < 0x80)
  const prefixText = keyBytes.subarray(0, Math.min(3, keyBytes.length)).toString("latin1")
  const text = (input: string): string =>
    ascii && !input.includes(prefixText) && !input.includes("\\") && !input.includes("%")
      ? input
      : Buffer.from(bytes(Buffer.from(input, "utf8"))).toString("utf8")

  const PERCENT = 0x25
  const prefix = keyBytes.subarray(0, Math.min(3, keyBytes.length))
  const prefixTail = prefix.subarray(1)
  // Every backslash form ends its backslashes with one of these: `\u00` (any byte) or `\/` (a slash).
  const backslashForms = keyBytes.includes(0x2f) ? [Buffer.from("\\u00"), Buffer.from("\\/")] : [Buffer.from("\\u00")]
  const sticky = new RegExp(source, "y")
  const isHex = (byte: number | undefined) =>
    byte !== undefined && ((byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x66))

  /**
   * Where in `chunk` a form of the key may start, ascending (duplicates possible), among
   * `[from, to)`. A form whose first three bytes are written literally starts with `prefix`;
   * any other has an escape among its first three bytes, so it starts 0–2 bytes before that
   * escape: a `%` and a hex digit, or a run of 1–4 backslashes ending in `\u00` (or `\/`). The
   * `\n` of ordinary JSON text is none of these. Found by native searches for those few byte
   * sequences; the bytes in between are never looked at one by one.
   */
  const candidates = (chunk: Buffer, from: number, to: number): Array<number> => {
    const out: Array<number> = []
    // The prefix is searched by its second byte on (`s`, say, is far more common in text than
    // `k-`, and a search stops at each of its first byte), then checked for its first.
    if (prefix.length === 1) {
      for (let at = chunk.indexOf(prefix, from); at !== -1 && at < to; at = chunk.indexOf(prefix, at + 1)) out.push(at)
    } else {
      for (
        let at = chunk.indexOf(prefixTail, from + 1);
        at !== -1 && at <= to;
        at = chunk.indexOf(prefixTail, at + 1)
      ) {
        if (chunk[at - 1] === prefix[0]) out.push(at - 1)
      }
    }
    // An escape that begins at most 2 bytes past `to` can belong to a form starting before `to`;
    // the backslashes of one may begin 3 bytes before the `\u00` that ends them.
    for (const form of backslashForms) {
      for (let at = chunk.indexOf(form, from); at !== -1 && at < to + 5; at = chunk.indexOf(form, at + 1)) {
        for (let first = at - 3; first <= at; first++) {
          for (let back = 0; back <= 2; back++) out.push(first - back)
        }
      }
    }
    for (let at = chunk.indexOf(PERCENT, from); at !== -1 && at < to + 2; at = chunk.indexOf(PERCENT, at + 1)) {
      if (isHex(chunk[at + 1])) { for (let back = 0; back <= 2; back++) out.push(at - back) }
    }
    return out.sort((a, b) => a - b)
  }

  /** The length of a form of the key starting exactly at `at` (it ends before `limit`), or 0. */
  const matchAt = (chunk: Buffer, at: number, limit: number): number => {
    sticky.lastIndex = 0
    const match = sticky.exec(chunk.toString("latin1", at, Math.min(limit, at + holdBack + 1)))
    return match === null ? 0 : match[0].length
  }

  /**
   * `buffer[from..cut)` as it is sent, in pieces, without copying: every form of the key that
   * starts in it replaced (a form that runs past `cut` is sent whole). Returns where the sent
   * bytes end: `cut`, or past it. Forms starting before `cut` must lie wholly in `buffer`.
   */
  const redactRange = (buffer: Buffer, from: number, cut: number, emit: Emit): number => {
    let sent = from
    for (const at of candidates(buffer, from, cut)) {
      if (at < sent || at >= cut) continue
      const length = matchAt(buffer, at, buffer.length)
      if (length === 0) continue
      if (at > sent) emit(buffer.subarray(sent, at))
      emit(replacementBytes)
      sent = at + length
      if (sent > cut) cut = sent
    }
    if (cut > sent) emit(buffer.subarray(sent, cut))
    return cut
  }

  const stream = (): StreamRedactor => {
    // The unsent end of the previous chunks: at most `holdBack` bytes.
    let carry: Buffer = Buffer.alloc(0)
    return {
      push: (chunk, emit) => {
        const view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
        if (view.length < 2 * holdBack + 2) {
          // A short chunk: joined with the carry (a few hundred bytes), then the same as below.
          const all = carry.length === 0 ? view : Buffer.concat([carry, view])
          const cut = redactRange(all, 0, Math.max(0, all.length - holdBack), emit)
          carry = Buffer.from(all.subarray(cut))
          return
        }
        // A long chunk, passed on in pieces without being copied. First the carry, with any form
        // that starts in it: it and the chunk's first `holdBack` bytes hold such a form whole.
        let skip = 0
        if (carry.length > 0) {
          const window = Buffer.concat([carry, view.subarray(0, holdBack)])
          skip = redactRange(window, 0, carry.length, emit) - carry.length
        }
        // Then forms starting in the chunk before its last `holdBack` bytes (those are kept back).
        const cut = redactRange(view, skip, view.length - holdBack, emit)
        carry = Buffer.from(view.subarray(cut))
      },
      end: (emit) => {
        const rest = carry
        carry = Buffer.alloc(0)
        if (rest.length > 0) emit(bytes(rest))
      }
    }
  }

  return { active: true, text, bytes, stream }
}

/** A body converter (see `Export.Converter`) whose output is redacted on its way out. */
export interface Converter {
  readonly push: (chunk: Buffer, emit: Emit) => void
  readonly end: (emit: Emit) => void
  readonly keepsInput?: boolean
}

/** `converter`, then redaction of what it produced, chunk by chunk. */
export const after = (converter: Converter, redactor: Redactor): Converter => {
  if (!redactor.active) return converter
  const stream = redactor.stream()
  const redacted = (emit: Emit): Emit => (bytes) => stream.push(bytes, emit)
  // The stream redactor copies what it holds back, so it keeps no view of its input.
  return {
    push: (chunk, emit) => converter.push(chunk, redacted(emit)),
    end: (emit) => {
      converter.end(redacted(emit))
      stream.end(emit)
    },
    ...(converter.keepsInput === true ? { keepsInput: true } : {})
  }
}
