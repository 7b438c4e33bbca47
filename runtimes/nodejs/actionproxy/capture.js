'use strict';
// The activation's log lines, handed back with its /run answer, as the Python proxy does
// (runtimes/python/actionproxy/capture.py, which says why). The launcher's stdout and stderr are pipes
// to this process: each complete line is passed on to the container's real stream at once, so the
// engine's log file holds what it always held, and kept with the time it was read until the
// activation ends. The launcher writes a flush marker line (FLUSHED and an id) on both streams before
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

class Capture {
  constructor(real) {
    this.real = real; // {stdout, stderr}: the container's streams
    this.streams = {};
    for (const name of STREAMS) {
      this.streams[name] = { pending: Buffer.alloc(0), lines: [], size: 0, over: false, ended: [] };
    }
    this.order = 0; // lines read in one chunk share a time: this keeps them in order
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

  /** The lines since the previous end, as the JSON to send with the answer when `limitBytes` is a number. */
  end(limitBytes) {
    let complete = true;
    const taken = STREAMS.map((name) => {
      const stream = this.streams[name];
      if (stream.ended.length) return stream.ended.shift();
      complete = false;
      return takeLines(stream);
    });
    if (typeof limitBytes !== 'number') return null;
    const merged = [];
    taken.forEach(({ lines }, index) => lines.forEach(([when, order, text]) => merged.push([when, order, index, text])));
    merged.sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : (a[0] < b[0] ? -1 : 1)));
    let truncated = taken.some(({ over }) => over);
    let size = 0;
    const kept = [];
    for (const [when, , index, text] of merged) {
      size += Buffer.byteLength(text, 'utf8');
      if (size > limitBytes) {
        truncated = true;
        break;
      }
      kept.push([rfc3339Nano(when), STREAMS[index], text]);
    }
    return JSON.stringify({ lines: kept, truncated, complete });
  }

  // --- internals -----------------------------------------------------------------------------------

  take(name, chunk) {
    const stream = this.streams[name];
    const data = stream.pending.length ? Buffer.concat([stream.pending, chunk]) : chunk;
    const now = process.hrtime.bigint() - HRTIME_ORIGIN + EPOCH_ORIGIN_NS;
    let start = 0;
    let end = data.indexOf(NEWLINE, start);
    while (end !== -1) {
      this.line(name, data.subarray(start, end), now);
      start = end + 1;
      end = data.indexOf(NEWLINE, start);
    }
    stream.pending = data.subarray(start);
    if (stream.pending.length > KEEP_BYTES) { // a line without end: its start becomes a line of its own
      this.line(name, stream.pending, now);
      stream.pending = Buffer.alloc(0);
    }
  }

  line(name, raw, now) {
    const stream = this.streams[name];
    const text = raw.toString('utf8').replace(/\r$/, '');
    const marker = text.lastIndexOf(FLUSHED);
    if (marker !== -1 && /^ \S+$/.test(text.slice(marker + FLUSHED.length))) {
      if (text.slice(0, marker)) this.line(name, Buffer.from(text.slice(0, marker), 'utf8'), now);
      this.mark(name, text.slice(marker + FLUSHED.length + 1));
      return;
    }
    if (text.endsWith(SENTINEL)) {
      const before = text.slice(0, -SENTINEL.length);
      if (before.trim()) this.line(name, Buffer.from(before, 'utf8'), now); // output without a newline of its own
      this.real[name].write(`${SENTINEL}\n`);
      stream.ended.push(takeLines(stream));
      return;
    }
    this.real[name].write(Buffer.concat([raw, Buffer.from('\n')]));
    if (stream.over) return;
    stream.size += raw.length;
    if (stream.size > KEEP_BYTES) {
      stream.over = true;
      return;
    }
    this.order += 1;
    stream.lines.push([now, this.order, text]);
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

function takeLines(stream) {
  const taken = { lines: stream.lines, over: stream.over };
  stream.lines = [];
  stream.size = 0;
  stream.over = false;
  return taken;
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
