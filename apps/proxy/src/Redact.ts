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

export interface Redactor {
  /** Whether there is a key to redact at all. */
  readonly active: boolean
  readonly text: (text: string) => string
  readonly bytes: (bytes: Uint8Array) => Uint8Array
  /** A fresh streaming redactor for one body: `push` each chunk, then `end`. */
  readonly stream: () => StreamRedactor
}

export interface StreamRedactor {
  readonly push: (chunk: Uint8Array) => Uint8Array | undefined
  readonly end: () => Uint8Array | undefined
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
      stream: () => ({ push: (chunk) => chunk, end: () => undefined })
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

  const text = (input: string): string => Buffer.from(bytes(Buffer.from(input, "utf8"))).toString("utf8")

  const stream = (): StreamRedactor => {
    // The unsent end of the previous chunks: at most `holdBack` bytes.
    let carry: Buffer = Buffer.alloc(0)
    return {
      push: (chunk) => {
        const view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
        const all = carry.length === 0 ? view : Buffer.concat([carry, view])
        // Everything before `cut` is final: a key starting there would fit wholly in `all`.
        let cut = Math.max(0, all.length - holdBack)
        if (!mayHoldKey(all)) {
          // No key starts before `cut` (it would show a marker): pass the bytes on as they are.
          carry = Buffer.from(all.subarray(cut))
          return cut === 0 ? undefined : all.subarray(0, cut)
        }
        const text = all.toString("latin1")
        // A match that runs past `cut` is kept whole on the side that is sent.
        let out = ""
        let from = 0
        pattern.lastIndex = 0
        for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
          if (match.index >= cut) break
          out += text.slice(from, match.index) + replacement
          from = match.index + match[0].length
          if (from > cut) cut = from
        }
        out += text.slice(from, cut)
        carry = Buffer.from(text.slice(cut), "latin1")
        return out === "" ? undefined : Buffer.from(out, "latin1")
      },
      end: () => {
        const rest = carry
        carry = Buffer.alloc(0)
        return rest.length === 0 ? undefined : bytes(rest)
      }
    }
  }

  return { active: true, text, bytes, stream }
}

/** A body converter (see `Export.Converter`) whose output is redacted on its way out. */
export interface Converter {
  readonly push: (chunk: Buffer) => Uint8Array | undefined
  readonly end: () => Uint8Array | undefined
}

/** `converter`, then redaction of what it produced, chunk by chunk. */
export const after = (converter: Converter, redactor: Redactor): Converter => {
  if (!redactor.active) return converter
  const stream = redactor.stream()
  return {
    push: (chunk) => {
      const out = converter.push(chunk)
      return out === undefined ? undefined : stream.push(out)
    },
    end: () => {
      const last = converter.end()
      const out = last === undefined ? undefined : stream.push(last)
      const rest = stream.end()
      if (out === undefined) return rest
      if (rest === undefined) return out
      return Buffer.concat([out, rest])
    }
  }
}
