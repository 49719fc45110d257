/**
 * The lines of a byte stream (a file or stdin), read only as the consumer asks for them.
 *
 * A readline interface reads its input as soon as it is created and emits lines whether or not
 * anyone is iterating yet, so a consumer that first does some asynchronous work (opening a
 * database, a few queries) silently loses the lines read meanwhile. Async iteration of a Readable
 * is pull-based instead: the stream waits, buffered and paused, until the next line is wanted, so
 * no line is lost however late or slowly the consumer reads.
 *
 * UTF-8, a leading byte order mark dropped (spreadsheets write one), `\n` or `\r\n` line ends, and
 * a last line without a line end kept.
 *
 * @example
 * const result = await importList(db, { name: 'known', lines: readLines(createReadStream('list.csv')) })
 */
export async function* readLines(chunks: AsyncIterable<string | Uint8Array>): AsyncGenerator<string, void, undefined> {
  const decoder = new TextDecoder('utf-8')
  let rest = ''
  let first = true
  for await (const chunk of chunks) {
    rest += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })
    if (first && rest.length > 0) {
      first = false
      if (rest.charCodeAt(0) === 0xfeff) rest = rest.slice(1)
    }
    let start = 0
    for (let end = rest.indexOf('\n'); end >= 0; end = rest.indexOf('\n', start)) {
      yield stripCr(rest.slice(start, end))
      start = end + 1
    }
    rest = rest.slice(start)
  }
  rest += decoder.decode()
  if (first && rest.charCodeAt(0) === 0xfeff) rest = rest.slice(1)
  if (rest !== '') yield stripCr(rest)
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line
}
