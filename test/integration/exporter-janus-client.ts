import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { HEADLESS_FLAGS } from './console-browser-helpers.ts';

/**
 * A real WebRTC client for the Janus tests: headless Chromium (fake camera and microphone) running
 * janus.js from Debian's libjs-janus-gateway, started INSIDE Janus' network namespace so that its only
 * route to Janus is the namespace's 127.0.0.1.
 */

const JANUS_JS = '/usr/share/javascript/janus-gateway/janus.js';
const ADAPTER_JS = '/usr/share/janus/demos/javascript/webrtc-adapter/adapter.js';
const CHROMIUM = '/usr/lib/chromium/chromium';

/** In-page helpers, plain JS (no transpiler in between). */
const PAGE_JS = `
const SERVER = window.JANUS_SERVER;
let initDone;
function init() {
  initDone ??= new Promise((res) => Janus.init({ debug: false, dependencies: Janus.useDefaultDependencies({ adapter }), callback: res }));
  return initDone;
}
async function session() {
  await init();
  return new Promise((res, rej) => { const j = new Janus({ server: SERVER, success: () => res(j), error: (e) => rej(new Error(String(e))) }); });
}
function attach(janus, handlers) {
  return new Promise((res, rej) => janus.attach({ plugin: 'janus.plugin.videoroom', success: res, error: (e) => rej(new Error(String(e))), ...handlers }));
}
function timeout(ms, what) { return new Promise((_, rej) => setTimeout(() => rej(new Error('timeout: ' + what)), ms)); }
window.rtcPeers = [];
window.rtcPublish = async (room, display) => {
  const janus = await session();
  let onMsg, onUp;
  const msgs = [];
  const up = new Promise((r) => { onUp = r; });
  const handle = await attach(janus, {
    onmessage: (msg, jsep) => { msgs.push({ msg, jsep }); onMsg?.(); },
    webrtcState: (on) => { if (on) onUp(); },
  });
  const next = (pred) => new Promise((res) => { const check = () => { const i = msgs.findIndex(pred); if (i >= 0) res(msgs.splice(i, 1)[0]); }; onMsg = check; check(); });
  handle.send({ message: { request: 'join', room, ptype: 'publisher', display } });
  const joined = await Promise.race([next((m) => m.msg.videoroom === 'joined'), timeout(15000, 'joined')]);
  const jsep = await new Promise((res, rej) => handle.createOffer({
    tracks: [{ type: 'audio', capture: true, recv: false }, { type: 'video', capture: true, recv: false }],
    success: res, error: (e) => rej(new Error(String(e?.message ?? e))),
  }));
  handle.send({ message: { request: 'configure', audio: true, video: true }, jsep });
  const answer = await Promise.race([next((m) => m.jsep), timeout(15000, 'answer')]);
  handle.handleRemoteJsep({ jsep: answer.jsep });
  await Promise.race([up, timeout(20000, 'webrtcup (publisher)')]);
  window.rtcPeers.push(janus);
  return joined.msg.id;
};
window.rtcSubscribe = async (room, feed) => {
  const janus = await session();
  let onUp, onOffer;
  const up = new Promise((r) => { onUp = r; });
  const offer = new Promise((r) => { onOffer = r; });
  const handle = await attach(janus, {
    onmessage: (msg, jsep) => { if (jsep) onOffer(jsep); },
    webrtcState: (on) => { if (on) onUp(); },
    onremotetrack: () => {},
  });
  handle.send({ message: { request: 'join', room, ptype: 'subscriber', streams: [{ feed }] } });
  const jsep = await Promise.race([offer, timeout(15000, 'subscriber offer')]);
  const answer = await new Promise((res, rej) => handle.createAnswer({
    jsep, tracks: [{ type: 'data' }], success: res, error: (e) => rej(new Error(String(e?.message ?? e))),
  }));
  handle.send({ message: { request: 'start', room }, jsep: answer });
  await Promise.race([up, timeout(20000, 'webrtcup (subscriber)')]);
  window.rtcPeers.push(janus);
  return true;
};
window.rtcLeave = async () => {
  await Promise.all(window.rtcPeers.splice(0).map((j) => new Promise((res) => j.destroy({ success: res, error: res }))));
  return true;
};
`;

export interface JanusClient {
  /** Joins `room` as a publisher sending fake audio and video; resolves with the publisher id once media flows. */
  publish(room: number, display: string): Promise<number>;
  /** Joins `room` as a subscriber of `feed`; resolves once media flows. */
  subscribe(room: number, feed: number): Promise<void>;
  /** Destroys every Janus session of this client (a clean leave). */
  leave(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Launches headless Chromium inside the namespace (`nsCommand` from the Janus launcher) and opens one
 * page per client. The page is served by Playwright itself from the Janus API's origin, so the API
 * calls are same-origin and 127.0.0.1 counts as a secure context for getUserMedia.
 */
export async function startJanusBrowser(opts: {
  dir: string;
  apiUrlInNs: string;
  nsCommand: (argv: readonly string[]) => string[];
}): Promise<{ browser: Browser; client(): Promise<JanusClient>; close(): Promise<void> }> {
  const wrapper = join(opts.dir, 'chromium-in-netns.sh');
  const cmd = opts.nsCommand([CHROMIUM]).map((a) => `'${a.replace(/'/g, `'\\''`)}'`);
  writeFileSync(wrapper, `#!/bin/sh\nexec ${cmd.join(' ')} "$@"\n`, { mode: 0o755 });
  const browser = await chromium.launch({
    executablePath: wrapper,
    headless: true,
    timeout: 60_000,
    args: [
      ...HEADLESS_FLAGS,
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
    ],
  });
  const origin = new URL(opts.apiUrlInNs).origin;
  const html = `<!doctype html><html><head><script>window.JANUS_SERVER=${JSON.stringify(opts.apiUrlInNs)};</script>
<script src="/rtcmon/adapter.js"></script><script src="/rtcmon/janus.js"></script><script src="/rtcmon/page.js"></script>
</head><body>rtcmon janus client</body></html>`;
  const files: Record<string, { body: string; type: string }> = {
    '/rtcmon/index.html': { body: html, type: 'text/html' },
    '/rtcmon/adapter.js': { body: readFileSync(ADAPTER_JS, 'utf8'), type: 'application/javascript' },
    '/rtcmon/janus.js': { body: readFileSync(JANUS_JS, 'utf8'), type: 'application/javascript' },
    '/rtcmon/page.js': { body: PAGE_JS, type: 'application/javascript' },
  };
  const pages: Page[] = [];
  return {
    browser,
    async client() {
      const ctx = await browser.newContext({ permissions: ['camera', 'microphone'] });
      const page = await ctx.newPage();
      pages.push(page);
      await page.route(`${origin}/rtcmon/**`, (route) => {
        const f = files[new URL(route.request().url()).pathname];
        return f
          ? route.fulfill({ status: 200, contentType: f.type, body: f.body })
          : route.fulfill({ status: 404 });
      });
      await page.goto(`${origin}/rtcmon/index.html`);
      await page.waitForFunction('typeof window.rtcPublish === "function"');
      return {
        publish: (room, display) =>
          page.evaluate(`window.rtcPublish(${Number(room)}, ${JSON.stringify(display)})`) as Promise<number>,
        subscribe: async (room, feed) => {
          await page.evaluate(`window.rtcSubscribe(${Number(room)}, ${Number(feed)})`);
        },
        leave: async () => {
          await page.evaluate('window.rtcLeave()');
        },
        close: () => ctx.close(),
      };
    },
    close: () => browser.close(),
  };
}
