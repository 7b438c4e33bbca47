'use strict';
// The activation's log lines, handed back with its /run answer, as the Python proxy does
// (runtimes/python/actionproxy/capture.py, which says why). The launcher's stdout and stderr are pipes
// to this process: each complete line is passed on to the container's real stream at once, so the
// engine's log file holds what it always held, and kept with the time it was read until the
// activation ends, as the chunks each read brought. The launcher writes a flush marker line (FLUSHED and an id) on both streams before
// each answer: once both markers are read, all it printed before the answer is in. The markers never
// reach the real streams. The runner's own lines (its messages and the sentinels) come in through
// `writer`, so they take their place among the launcher's.

const { SENTINEL, FLUSHED } = require('./protocol');

const LOGS_HEADER = 'x-squall-logs'; // on /run: the log limit in bytes (Node lower-cases header names)
const LOGS_LENGTH_HEADER = 'X-Squall-Logs-Length'; // on the answer: the body starts with that many bytes of lines
const KEEP_BYTES = 10 * 1024 * 1024 + 1; // OpenWhisk's largest log limit, and one byte to know it was passed
const END_WAIT_MS = 5000; // how long the markers may take (only a stream no one reads holds them)
const STREAMS = ['stdout', 'stderr'];
const NEWLINE = 10;
const NEWLINE_BYTES = Buffer.from('\n');
const FLUSHED_BYTES = Buffer.from(FLUSHED);
const SENTINEL_BYTES = Buffer.from(SENTINEL);

class Capture {
  constructor(real) {
    this.real = real; // {stdout, stderr}: the container's streams
    this.streams = {};
    for (const name of STREAMS) {
      // chunks: [epoch ns, order, text of one or more lines] since the last sentinel, one per read
      this.streams[name] = { pending: Buffer.alloc(0), chunks: [], size: 0, over: false, ended: [] };
    }
    this.order = 0; // chunks of both streams read at one time: this keeps them in order
    this.seen = new Map(); // marker id -> the streams it was read on
    this.waiters = new Map(); // marker id -> {resolve, closed: the streams of the child answering that have closed}
    this.closedOf = new WeakMap(); // child -> names of its streams that closed
  }

  /** A stream-like object for the runner's own output on `name`. */
  writer(name) {
    return { write: (text) => this.take(name, Buffer.from(text, 'utf8')) };
  }

  /** Read a launcher child's stdout and stderr (it was started with them as pipes). */
  attach(child) {
    const closed = new Set();
    this.closedOf.set(child, closed);
    for (const name of STREAMS) {
      child[name].on('data', (chunk) => this.take(name, chunk));
      child[name].on('close', () => { // all it wrote has been read: no marker will come
        closed.add(name);
        for (const id of [...this.waiters.keys()]) this.check(id);
      });
    }
  }

  /** Resolves once both streams of `child` brought marker `id` (or closed, or END_WAIT_MS passed). */
  flushed(id, child) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.release(id), END_WAIT_MS);
      const closed = this.closedOf.get(child) || new Set(STREAMS);
      this.waiters.set(id, {
        closed,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      this.check(id);
    });
  }

  /** The lines since the previous end, when `limitBytes` is a number, as the parts of a JSON text to send one
   * after the other: {"chunks": [[time, stream, text], ...], "truncated", "complete"}, at most `limitBytes` of
   * text. Encoded a chunk at a time and never joined: a flood is not copied once more per step. */
  end(limitBytes) {
    let complete = true;
    const taken = STREAMS.map((name) => {
      const stream = this.streams[name];
      if (stream.ended.length) return stream.ended.shift();
      complete = false;
      return takeChunks(stream);
    });
    if (typeof limitBytes !== 'number') return null;
    const merged = [];
    taken.forEach(({ chunks }, index) => chunks.forEach(([when, order, text]) => merged.push([when, order, index, text])));
    merged.sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : (a[0] < b[0] ? -1 : 1)));
    let truncated = taken.some(({ over }) => over);
    let size = 0;
    const parts = [Buffer.from('{"chunks":[')];
    for (let at = 0; at < merged.length; at += 1) {
      const [when, , index] = merged[at];
      let text = merged[at][3];
      merged[at] = null; // dropped once encoded
      const bytes = textBytes(text);
      if (size + bytes > limitBytes) {
        truncated = true;
        text = cut(text, limitBytes - size);
        if (!text) break;
      }
      size += bytes;
      const piece = JSON.stringify([rfc3339Nano(when), STREAMS[index], text]);
      parts.push(Buffer.from(parts.length > 1 ? `,${piece}` : piece, 'utf8'));
      if (truncated) break;
    }
    parts.push(Buffer.from(`],${JSON.stringify({ truncated, complete }).slice(1)}`));
    return parts;
  }

  // --- internals -----------------------------------------------------------------------------------

  take(name, chunk) {
    const stream = this.streams[name];
    const data = stream.pending.length ? Buffer.concat([stream.pending, chunk]) : chunk;
    const now = process.hrtime.bigint() - HRTIME_ORIGIN + EPOCH_ORIGIN_NS;
    const last = data.lastIndexOf(NEWLINE);
    if (last === -1) {
      stream.pending = data;
      if (data.length > KEEP_BYTES) { // a line without end: its start becomes a line of its own
        stream.pending = Buffer.alloc(0);
        this.pass(name, data, now);
      }
      return;
    }
    stream.pending = Buffer.from(data.subarray(last + 1)); // a copy: the chunk itself is not kept alive
    const lines = data.subarray(0, last);
    if (lines.includes(FLUSHED_BYTES) || lines.includes(SENTINEL_BYTES)) {
      this.byLine(name, lines, now);
    } else {
      this.pass(name, lines, now);
    }
  }

  /** Lines without a marker or sentinel: passed on and kept as one chunk. */
  pass(name, lines, now) {
    this.real[name].write(Buffer.concat([lines, NEWLINE_BYTES]));
    this.keep(this.streams[name], now, lines.toString('utf8'));
  }

  /** Lines that hold a marker or a sentinel (once or twice per activation). */
  byLine(name, lines, now) {
    const stream = this.streams[name];
    let group = [];
    const flush = () => {
      if (group.length) this.pass(name, Buffer.from(group.join('\n'), 'utf8'), now);
      group = [];
    };
    for (const raw of lines.toString('utf8').split('\n')) {
      const line = raw.replace(/\r$/, '');
      const marker = line.lastIndexOf(FLUSHED);
      if (marker !== -1 && /^ \S+$/.test(line.slice(marker + FLUSHED.length))) {
        if (line.slice(0, marker)) group.push(line.slice(0, marker)); // output without a newline of its own
        flush();
        this.mark(name, line.slice(marker + FLUSHED.length + 1));
      } else if (line.endsWith(SENTINEL)) {
        const before = line.slice(0, -SENTINEL.length);
        if (before.trim()) group.push(before);
        flush();
        this.real[name].write(`${SENTINEL}\n`);
        stream.ended.push(takeChunks(stream));
      } else {
        group.push(raw);
      }
    }
    flush();
  }

  keep(stream, now, text) {
    if (stream.over) return;
    let bytes = textBytes(text);
    if (stream.size + bytes > KEEP_BYTES) {
      stream.over = true;
      text = cut(text, KEEP_BYTES - stream.size);
      if (!text) return;
      bytes = textBytes(text);
    }
    stream.size += bytes;
    this.order += 1;
    stream.chunks.push([now, this.order, text]);
  }

  mark(name, id) {
    const streams = this.seen.get(id) || new Set();
    streams.add(name);
    this.seen.set(id, streams);
    this.check(id);
  }

  check(id) {
    const waiter = this.waiters.get(id);
    if (!waiter) return;
    const streams = this.seen.get(id) || new Set();
    if (STREAMS.every((name) => streams.has(name) || waiter.closed.has(name))) this.release(id);
  }

  release(id) {
    const waiter = this.waiters.get(id);
    if (!waiter) return;
    this.waiters.delete(id);
    this.seen.delete(id);
    waiter.resolve();
  }
}

function takeChunks(stream) {
  const taken = { chunks: stream.chunks, over: stream.over };
  stream.chunks = [];
  stream.size = 0;
  stream.over = false;
  return taken;
}

/** Bytes of text in `text`, newlines not counted (as the invoker counts). */
function textBytes(text) {
  let newlines = 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) newlines += 1;
  return Buffer.byteLength(text, 'utf8') - newlines;
}

/** The whole lines of `text` that fit in `room` bytes of text. */
function cut(text, room) {
  const kept = [];
  let size = 0;
  for (const line of text.split('\n')) {
    size += Buffer.byteLength(line, 'utf8');
    if (size > room) break;
    kept.push(line);
  }
  return kept.join('\n');
}

// Nanosecond wall-clock times from the monotonic clock, anchored once (Date has milliseconds only).
const HRTIME_ORIGIN = process.hrtime.bigint();
const EPOCH_ORIGIN_NS = BigInt(Date.now()) * 1000000n;

/** The engine's time format (`2024-05-01T12:00:00.123456789Z`). */
function rfc3339Nano(epochNs) {
  const millis = Number(epochNs / 1000000n);
  const nanos = String(epochNs % 1000000000n).padStart(9, '0');
  return `${new Date(millis).toISOString().slice(0, 19)}.${nanos}Z`;
}

module.exports = { Capture, LOGS_HEADER, LOGS_LENGTH_HEADER, rfc3339Nano };
