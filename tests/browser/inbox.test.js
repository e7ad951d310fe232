/*
 * inbox.test.js: notimock's inbox (web/) in a real browser.
 *
 * Starts the real binary ($NOTIMOCK_BIN) on a kernel-chosen loopback port
 * with a temporary database, and drives Debian's Chromium ($CHROMIUM, else
 * /usr/bin/chromium) headless through playwright-core, with a fresh profile.
 * The tests run in order and share one server: each builds on what the
 * earlier ones sent.  Screenshots go to $NOTIMOCK_ARTIFACTS (default
 * tests/browser/artifacts/); with NOTIMOCK_DOC_SCREENSHOTS=DIR the two
 * README pictures are written to DIR as well (inbox-light.png,
 * inbox-dark.png).
 *
 *	node --test --test-reporter=tap tests/browser/inbox.test.js
 */
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { seedDemo, post, SEND } = require('./demo.js');

const TOKEN = 'browser-test-token-0123456789abcdef';
const ADMIN = 'admin-token-for-the-inbox-0123456789';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.NOTIMOCK_ARTIFACTS ||
    path.join(__dirname, 'artifacts');
const DOC_DIR = process.env.NOTIMOCK_DOC_SCREENSHOTS || '';
const CHROME_ARGS = ['--headless', '--no-sandbox', '--disable-gpu',
    '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'];
const T = { timeout: 90000 };

let srv = null;		/* the shared server */
let ctx = null;		/* the browser (one persistent profile) */
let profile = null;
const servers = [];

/* --- the server ------------------------------------------------------------ */

function serverEnv() {
	const env = {};
	for (const [k, v] of Object.entries(process.env))
		if (!k.startsWith('NOTIMOCK_') && k !== 'ARGOCD_NOTIFICATION_TOKEN')
			env[k] = v;
	return env;
}

async function startServer(extra) {
	const bin = process.env.NOTIMOCK_BIN;
	assert.ok(bin, 'NOTIMOCK_BIN must name the notimock binary');
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'notimock-browser-'));
	const args = ['--listen', '127.0.0.1:0', '--tls-listen', 'off', '--db',
	    path.join(dir, 'notimock.db'), '--token', TOKEN].concat(extra || []);
	const proc = spawn(bin, args, { cwd: dir, env: serverEnv(),
	    stdio: ['ignore', 'ignore', 'pipe'] });
	const s = { proc, dir, log: '', base: null, exited: null };
	servers.push(s);
	proc.stderr.on('data', (b) => { s.log += b; });
	const exited = new Promise((resolve) => proc.on('exit', (code, sig) => {
		s.exited = sig || code;
		resolve();
	}));
	s.stop = async () => {
		if (s.exited === null) {
			proc.kill('SIGTERM');
			const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
			await exited;
			clearTimeout(t);
		}
		fs.rmSync(dir, { recursive: true, force: true });
	};
	const deadline = Date.now() + 10000;
	for (;;) {
		const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(s.log);
		if (m) {
			s.base = 'http://127.0.0.1:' + m[1];
			break;
		}
		if (s.exited !== null || Date.now() > deadline)
			throw new Error('notimock did not start (' + args.join(' ') +
			    '):\n' + s.log);
		await new Promise((r) => setTimeout(r, 20));
	}
	return s;
}

async function mock(s, p, opts) {
	const headers = {};
	if (opts && opts.admin)
		headers.Authorization = 'Bearer ' + opts.admin;
	const res = await fetch(s.base + p, { method: (opts && opts.method) ||
	    'GET', headers });
	assert.equal(res.status, 200, p + ' answered ' + res.status);
	return res.json();
}

function send(s, body, opts) {
	return post(s.base, (opts && opts.token) || TOKEN, body,
	    opts && 'contentType' in opts ? opts.contentType : undefined);
}

function entityMsg(ref, title, extra) {
	return { recipients: { type: 'entity', entityRef: ref },
	    payload: Object.assign({ title }, extra || {}) };
}

/* --- the browser ----------------------------------------------------------- */

/* Everything a page does that a test may object to. */
function watch(page) {
	const w = { errors: [], dialogs: [], requests: [] };
	page.on('console', (m) => {
		if (m.type() === 'error')
			w.errors.push(m.text());
	});
	page.on('pageerror', (e) => w.errors.push('uncaught: ' + e.message));
	page.on('dialog', (d) => {
		w.dialogs.push(d.type() + ': ' + d.message());
		d.dismiss().catch(() => {});
	});
	page.on('request', (r) => w.requests.push(r.url()));
	return w;
}

function assertClean(w) {
	assert.deepEqual(w.errors, [], 'console errors');
	assert.deepEqual(w.dialogs, [], 'JavaScript dialogs opened');
}

async function open(url, opts) {
	const page = await ctx.newPage();
	if (opts && opts.viewport)
		await page.setViewportSize(opts.viewport);
	await page.emulateMedia({ colorScheme: (opts && opts.scheme) ||
	    'light' });
	const w = watch(page);
	await page.goto(url);
	await page.waitForSelector('#live.live-ok');
	return { page, w };
}

/* The sidebar as data: [{ group, total, unread, current }]. */
function sidebar(page) {
	return page.$$eval('#sidebar a.group', (as) => as.map((a) => ({
		group: a.dataset.group,
		total: Number(a.querySelector('.total-count').textContent),
		unread: a.querySelector('.unread-count') ?
		    Number(a.querySelector('.unread-count').textContent) : 0,
		current: a.classList.contains('current'),
	})));
}

function rowSeqs(page) {
	return page.$$eval('#list li.row', (rows) =>
	    rows.map((r) => Number(r.dataset.seq)));
}

function groupOf(bar, id) {
	return bar.find((g) => g.group === id);
}

async function shoot(page, name) {
	fs.mkdirSync(ARTIFACTS, { recursive: true });
	const file = path.join(ARTIFACTS, name);
	await page.screenshot({ path: file });
	return file;
}

/* --- setup ------------------------------------------------------------------- */

before(async () => {
	srv = await startServer();
	profile = fs.mkdtempSync(path.join(os.tmpdir(), 'notimock-chromium-'));
	ctx = await chromium.launchPersistentContext(profile, {
		executablePath: CHROMIUM,
		headless: true,
		args: CHROME_ARGS,
		viewport: { width: 1440, height: 900 },
		colorScheme: 'light',
		timeout: 30000,
	});
	ctx.setDefaultTimeout(15000);
});

after(async () => {
	if (ctx)
		await ctx.close();
	if (profile)
		fs.rmSync(profile, { recursive: true, force: true });
	for (const s of servers) {
		await s.stop();
		assert.doesNotMatch(s.log, /ERROR: AddressSanitizer|runtime error:/,
		    'sanitizer report from notimock:\n' + s.log);
	}
});

/* --- the tests ------------------------------------------------------------- */

test('GET / serves the inbox with a strict CSP and validators', T, async () => {
	const res = await fetch(srv.base + '/');
	assert.equal(res.status, 200);
	assert.match(res.headers.get('content-type'), /^text\/html/);
	const csp = res.headers.get('content-security-policy');
	assert.match(csp, /default-src 'none'/);
	assert.match(csp, /script-src 'self'(;|$)/);
	assert.match(csp, /style-src 'self'(;|$)/);
	assert.match(csp, /frame-ancestors 'none'/);
	assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
	assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
	assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
	assert.match(res.headers.get('cache-control'), /no-cache/);
	const html = await res.text();
	assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/i,
	    'inline <script>');
	assert.doesNotMatch(html, /\sstyle=|<style|\son[a-z]+=/i,
	    'inline style or handler');

	const js = await fetch(srv.base + '/app.js');
	const etag = js.headers.get('etag');
	assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
	await js.arrayBuffer();
	const again = await fetch(srv.base + '/app.js',
	    { headers: { 'If-None-Match': etag } });
	assert.equal(again.status, 304);
});

test('the empty inbox loads cleanly and shows a curl for this instance', T,
    async () => {
	const { page, w } = await open(srv.base + '/');
	await page.waitForSelector('#empty:not([hidden])');
	const cmd = await page.textContent('#first-curl');
	assert.ok(cmd.includes(srv.base + SEND), cmd);
	assert.ok(cmd.includes('Bearer $TOKEN'), cmd);
	assert.ok(!cmd.includes(TOKEN), 'the page shows a configured token');
	await shoot(page, 'empty-light.png');
	assertClean(w);
	await page.close();
});

test('a notification POSTed while the page is open appears without reload',
    T, async () => {
	const { page, w } = await open(srv.base + '/');
	await page.waitForSelector('#empty:not([hidden])');
	await page.evaluate(() => { window.notReloaded = true; });

	/* Send exactly what the empty state suggests. */
	const cmd = await page.textContent('#first-curl');
	const body = /-d '(.*)'$/s.exec(cmd)[1].replace(/'\\''/g, "'");
	assert.equal(await send(srv, JSON.parse(body)), 200);

	await page.waitForSelector('#list li.row');
	assert.equal(await page.textContent('#list li.row .title'),
	    'order-service synced');
	assert.ok(await page.$eval('#list li.row', (e) =>
	    e.classList.contains('fresh')), 'a new row is highlighted');
	assert.ok(await page.evaluate(() => window.notReloaded === true));
	/* Its description is rendered from the Markdown subset (the row is
	 * built again once the full delivery is in). */
	await page.waitForSelector('#list li.row .row-desc strong');
	const row = await page.$('#list li.row');
	assert.equal(await row.$eval('.row-desc strong', (e) => e.textContent),
	    'order-service');
	assert.equal(await row.$eval('.row-desc code', (e) => e.textContent),
	    '4f2a9c1');
	assert.equal(await row.$$eval('.row-desc p', (p) => p.length), 2);
	const link = await row.$('.row-link a');
	assert.equal(await link.getAttribute('target'), '_blank');
	assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
	const bar = await sidebar(page);
	assert.equal(groupOf(bar, 'e:component:default/order-service').total, 1);
	assert.equal(groupOf(bar, 'all').unread, 1);
	assert.match(await page.title(), /^\(1\) /);
	assertClean(w);
	await page.close();
});

test('entities are grouped with the right counts, newest first', T,
    async () => {
	const { page, w } = await open(srv.base + '/');
	const sent = [
		entityMsg('Component:Default/Order-Service', 'spelled loudly',
		    { severity: 'high', topic: 'deploy' }),
		entityMsg('component:order-service', 'no namespace',
		    { topic: 'deploy' }),
		entityMsg('component:default/payment-gateway', 'pg one',
		    { severity: 'critical', topic: 'sync' }),
		entityMsg(['component:default/payment-gateway',
		    'group:default/platform-team'], 'two refs at once',
		    { severity: 'low', topic: 'sync' }),
		{ recipients: { type: 'broadcast' },
		    payload: { title: 'to everyone', severity: 'low' } },
		entityMsg('component:default/payment-gateway', 'pg three'),
	];
	for (const b of sent)
		assert.equal(await send(srv, b), 200);
	/* An empty title: refused, and still grouped under its entity. */
	assert.equal(await send(srv, entityMsg(
	    'component:default/payment-gateway', '',
	    { description: 'the refused one' })), 400);

	const total = (await mock(srv, '/mock/cursor')).cursor;
	await page.waitForFunction((n) => document.querySelector(
	    '#sidebar a[data-group="all"] .total-count').textContent ===
	    String(n), total);
	const bar = await sidebar(page);
	assert.equal(groupOf(bar, 'e:component:default/order-service').total, 3);
	assert.equal(groupOf(bar, 'e:component:default/payment-gateway').total,
	    4);
	assert.equal(groupOf(bar, 'e:group:default/platform-team').total, 1);
	assert.equal(groupOf(bar, 'rejected').total, 1);
	assert.equal(groupOf(bar, 'broadcast').total, 1);
	assert.equal(groupOf(bar, 'all').total, total);
	for (const g of bar)
		assert.equal(g.unread, g.total, g.group + ': all unread');

	/* The same groups, counts and order as /mock/entities. */
	const ents = (await mock(srv, '/mock/entities')).entities;
	const shown = bar.filter((g) => g.group.startsWith('e:'));
	assert.deepEqual(shown.map((g) => [g.group.slice(2), g.total]),
	    ents.map((e) => [e.ref, e.total]));

	/* One entity: its deliveries only, newest first. */
	await page.click('#sidebar a[data-group="e:component:default/' +
	    'payment-gateway"]');
	await page.waitForFunction(() => document.querySelectorAll(
	    '#list li.row').length === 4);
	const seqs = await rowSeqs(page);
	assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a));
	const want = (await mock(srv, '/mock/deliveries?view=summary&entity=' +
	    'component:default/payment-gateway')).deliveries.map((d) => d.seq);
	assert.deepEqual(seqs, want);
	assert.equal(await page.textContent('#view-title'),
	    'component:default/payment-gateway');
	assert.ok(await page.$('#list li.row.rejected'), 'the refused one');
	const badges = await page.$$eval('#list .badge.sev-critical',
	    (b) => b.length);
	assert.equal(badges, 1);
	assertClean(w);
	await page.close();
});

test('hostile content runs no script and opens no dialog', T, async () => {
	const { page, w } = await open(srv.base +
	    '/#g=e:component:default/hostile');
	const title = '<img src=x onerror=alert(1)>';
	const desc = '[click me](javascript:alert(2)) <script>alert(3)' +
	    '</script> **bold** <b onmouseover=alert(4)>x</b> ' +
	    '[data](data:text/html,<script>alert(5)</script>) ' +
	    '[ok](https://example.com/ok)';
	assert.equal(await send(srv, entityMsg('component:default/hostile',
	    title, { description: desc, link: 'https://example.com/app' })),
	    200);
	/* Backstage refuses a javascript: link: a rejected delivery. */
	assert.equal(await send(srv, entityMsg('component:default/hostile',
	    'javascript link', { link: 'javascript:alert(6)' })), 400);

	await page.waitForFunction(() => document.querySelectorAll(
	    '#list li.row').length === 2);
	await page.waitForSelector('#list li.row:not(.rejected) .row-desc ' +
	    'strong');
	const row = await page.$('#list li.row:not(.rejected)');
	assert.equal(await row.$eval('.title', (e) => e.textContent), title);
	assert.equal(await row.$eval('.row-desc strong', (e) => e.textContent),
	    'bold');
	const inert = await row.$$eval('.md-inert', (e) =>
	    e.map((x) => x.textContent));
	assert.deepEqual(inert, ['[click me](javascript:alert(2))',
	    '[data](data:text/html,<script>alert(5)</script>)']);
	await row.hover();
	await row.click();
	await page.waitForSelector('#detail-body .detail-title');
	assert.equal(await page.textContent('#detail-body .detail-title'),
	    title);

	/* The refused one: its javascript: link is shown, never linked. */
	await page.click('#list li.row.rejected');
	await page.waitForSelector('#detail-body .refused');
	assert.match(await page.textContent('#detail-body .detail-link'),
	    /javascript:alert\(6\)/);
	/* Clicking the inert text does nothing either. */
	const inerts = await page.$$eval('#detail-body .md-inert',
	    (e) => e.length);
	for (let k = 0; k < inerts; k++)
		await page.locator('#detail-body .md-inert').nth(k).click();
	await page.locator('#list li.row:not(.rejected) .md-inert').first()
	    .click();
	await page.waitForSelector('#detail-body .detail-desc .md-inert');

	const dom = await page.evaluate(() => ({
		imgs: document.querySelectorAll('#list img, #detail img').length,
		scripts: Array.from(document.scripts).map((s) => s.src),
		hrefs: Array.from(document.querySelectorAll('a[href]'))
		    .map((a) => a.getAttribute('href')),
		handlers: Array.from(document.querySelectorAll('*')).filter(
		    (e) => Array.from(e.attributes).some((a) =>
		    a.name.startsWith('on'))).length,
	}));
	assert.equal(dom.imgs, 0, 'an <img> from the payload');
	assert.deepEqual(dom.scripts, [srv.base + '/app.js']);
	assert.equal(dom.handlers, 0, 'an on* attribute from the payload');
	for (const href of dom.hrefs)
		assert.match(href, /^(https?:\/\/|#)/, 'link ' + href);
	assert.ok(!w.requests.some((u) => u === srv.base + '/x'),
	    'the <img> was loaded');
	assert.equal(page.url().startsWith(srv.base), true);
	assertClean(w);
	await page.close();
});

test('rejected deliveries show their diagnoses', T, async () => {
	/* A token notimock does not know. */
	assert.equal(await send(srv, entityMsg('component:default/ledger-api',
	    'old token'), { token: 'not-a-configured-token-000000' }), 401);
	/* Argo CD's webhook without a Content-Type header. */
	assert.equal(await send(srv, entityMsg('component:default/ledger-api',
	    'no media type'), { contentType: null }), 400);
	const rejected = (await mock(srv,
	    '/mock/deliveries?status=rejected')).deliveries;
	assert.ok(rejected.length >= 3);

	const { page, w } = await open(srv.base + '/#g=rejected');
	await page.waitForFunction((n) => document.querySelectorAll(
	    '#list li.row').length === n, rejected.length);
	/* The two classic Argo CD mistakes are diagnosed; every rejected
	 * delivery shows exactly what the engine stored. */
	for (const title of ['old token', 'no media type']) {
		const d = rejected.find((x) => {
			try {
				return JSON.parse(x.body).payload.title === title;
			} catch (e) {
				return false;
			}
		});
		assert.ok(d, title + ': not stored');
		assert.ok(d.diagnoses.length > 0, title + ': no diagnoses');
	}
	for (const d of rejected) {
		const row = await page.$('#list li.row[data-seq="' + d.seq + '"]');
		const chips = await row.$$eval('.diag-chip:not(.more)',
		    (c) => c.map((x) => x.textContent));
		assert.deepEqual(chips, d.diagnoses.slice(0, 3).map((g) => g.code));
		await row.click();
		await page.waitForFunction((seq) => document.querySelector(
		    '#detail-seq').textContent === 'delivery #' + seq &&
		    document.querySelector('#detail-body .detail-title'), d.seq);
		const shown = await page.$$eval('#detail-body li.diag', (l) =>
		    l.map((x) => ({
			code: x.querySelector('.diag-code').textContent,
			level: x.querySelector('.diag-level').textContent,
			text: x.textContent.replace(/\s+/g, ' '),
			fix: !!x.querySelector('.diag-fix'),
		    })));
		assert.equal(shown.length, d.diagnoses.length);
		assert.equal(!!await page.$('#detail-body .diags'),
		    d.diagnoses.length > 0);
		d.diagnoses.forEach((g, k) => {
			assert.equal(shown[k].code, g.code);
			assert.equal(shown[k].level, g.level);
			const words = (s) => String(s).replace(/[*_`]/g, '')
			    .replace(/\s+/g, ' ').trim().slice(0, 40);
			assert.ok(shown[k].text.includes(words(g.message)),
			    g.code + ': message not shown');
			assert.equal(shown[k].fix, !!g.fix);
		});
		const answer = JSON.parse((await mock(srv, '/mock/deliveries/' +
		    d.seq)).response || '{}');
		if (answer.error)
			assert.ok((await page.textContent('#detail-body .refused'))
			    .includes(answer.error.message));
	}
	await shoot(page, 'rejected-light.png');
	assertClean(w);
	await page.close();
});

test('the URL holds the view: reload and a shared link show the same', T,
    async () => {
	const { page, w } = await open(srv.base + '/');
	const pg = 'e:component:default/payment-gateway';
	await page.click('#sidebar a[data-group="' + pg + '"]');
	await page.selectOption('#f-severity', 'critical');
	await page.waitForFunction(() => document.querySelectorAll(
	    '#list li.row').length === 1);
	const seq = (await rowSeqs(page))[0];
	await page.click('#list li.row');
	await page.waitForSelector('#detail:not([hidden]) .detail-title');
	const url = page.url();
	assert.match(url, /#g=e:component:default\/payment-gateway&/);
	assert.match(url, /severity=critical/);
	assert.match(url, new RegExp('d=' + seq + '$'));

	const check = async (p) => {
		await p.waitForSelector('#detail:not([hidden]) .detail-title');
		const bar = await sidebar(p);
		assert.ok(groupOf(bar, pg).current, 'the group is selected');
		assert.equal(await p.inputValue('#f-severity'), 'critical');
		assert.equal(await p.textContent('#detail-seq'),
		    'delivery #' + seq);
		assert.equal(await p.textContent('#detail-body .detail-title'),
		    'pg one');
		assert.deepEqual(await rowSeqs(p), [seq]);
	};
	await page.reload();
	await check(page);

	const other = await open(url);
	await check(other.page);
	assertClean(other.w);
	await other.page.close();

	/* Opening a delivery was a step in the history. */
	await page.goBack();
	await page.waitForSelector('#detail', { state: 'hidden' });
	assert.doesNotMatch(page.url(), /d=/);
	assertClean(w);
	await page.close();
});

test('keyboard navigation', T, async () => {
	const { page, w } = await open(srv.base + '/');
	await page.waitForSelector('#list li.row');
	const seqs = await rowSeqs(page);
	const focused = () => page.evaluate(() =>
	    Number(document.activeElement.dataset.seq || 0));

	await page.keyboard.press('j');
	assert.equal(await focused(), seqs[1]);
	await page.keyboard.press('k');
	assert.equal(await focused(), seqs[0]);
	await page.keyboard.press('ArrowDown');
	await page.keyboard.press('ArrowDown');
	assert.equal(await focused(), seqs[2]);
	await page.keyboard.press('Enter');
	await page.waitForFunction((s) => document.querySelector('#detail-seq')
	    .textContent === 'delivery #' + s, seqs[2]);
	await page.keyboard.press('j');
	await page.waitForFunction((s) => document.querySelector('#detail-seq')
	    .textContent === 'delivery #' + s, seqs[3]);
	assert.match(page.url(), new RegExp('d=' + seqs[3] + '$'));
	await page.keyboard.press('Escape');
	await page.waitForSelector('#detail', { state: 'hidden' });
	await page.waitForFunction((s) => Number(document.activeElement
	    .dataset.seq || 0) === s, seqs[3]);

	/* u: read and unread again. */
	const unread = (s) => page.$eval('#list li.row[data-seq="' + s + '"]',
	    (r) => r.classList.contains('unread'));
	assert.equal(await unread(seqs[3]), false, 'opened means read');
	await page.keyboard.press('u');
	await page.waitForFunction((s) => document.querySelector(
	    '#list li.row[data-seq="' + s + '"]').classList.contains('unread'),
	    seqs[3]);

	/* ] and [: the next and previous group. */
	await page.keyboard.press(']');
	await page.waitForFunction(() => /g=rejected/.test(location.hash));
	await page.keyboard.press('[');
	await page.waitForFunction(() => !/g=/.test(location.hash));

	/* /: search (on the server: description and body too). */
	await page.keyboard.press('/');
	assert.equal(await page.evaluate(() => document.activeElement.id),
	    'f-q');
	await page.keyboard.type('CrashLoop');
	await page.waitForFunction(() => document.querySelectorAll(
	    '#list li.row').length === 0);
	await page.keyboard.press('Escape');
	await page.waitForFunction((n) => document.querySelectorAll(
	    '#list li.row').length === n, seqs.length);
	await page.fill('#f-q', 'the refused one');
	await page.waitForFunction(() => document.querySelectorAll(
	    '#list li.row').length === 1);
	await page.fill('#f-q', '');

	/* Arrow keys in the sidebar, Enter follows the link. */
	await page.focus('#sidebar a[data-group="all"]');
	await page.keyboard.press('ArrowDown');
	await page.keyboard.press('Enter');
	await page.waitForFunction(() => /g=rejected/.test(location.hash));

	/* ?: the shortcuts, in a <dialog> of the page (not a JS dialog). */
	await page.keyboard.press('Escape');
	await page.evaluate(() => document.activeElement.blur());
	await page.keyboard.press('?');
	await page.waitForSelector('#help-dialog[open]');
	await page.keyboard.press('Escape');
	await page.waitForSelector('#help-dialog', { state: 'hidden' });
	assertClean(w);
	await page.close();
});

test('read marks: opening reads, counts follow, mark all read', T,
    async () => {
	const grp = 'e:component:default/order-service';
	const { page, w } = await open(srv.base + '/#g=' + grp);
	await page.waitForSelector('#list li.row');
	const before = groupOf(await sidebar(page), grp);
	assert.ok(before.unread > 0);
	await page.click('#list li.row.unread');
	await page.waitForFunction(([g, n]) => {
		const a = document.querySelector('#sidebar a[data-group="' +
		    g + '"] .unread-count');
		return (a ? Number(a.textContent) : 0) === n;
	}, [grp, before.unread - 1]);
	await page.click('#detail-read');
	await page.waitForFunction(([g, n]) => {
		const a = document.querySelector('#sidebar a[data-group="' +
		    g + '"] .unread-count');
		return (a ? Number(a.textContent) : 0) === n;
	}, [grp, before.unread]);
	await page.click('#mark-all');
	await page.waitForFunction((g) => !document.querySelector(
	    '#sidebar a[data-group="' + g + '"] .unread-count'), grp);
	await page.reload();
	await page.waitForSelector('#list li.row');
	assert.equal(groupOf(await sidebar(page), grp).unread, 0,
	    'read marks survive a reload');
	assertClean(w);
	await page.close();
});

test('light and dark screenshots with demo data; a half-screen laptop', T,
    async () => {
	const demo = await startServer(['--catalog',
	    path.join(__dirname, 'demo-catalog.yaml')]);
	const statuses = await seedDemo(demo.base, TOKEN);
	assert.ok(statuses.includes(200) && statuses.includes(400));
	const all = (await mock(demo,
	    '/mock/deliveries?view=summary&limit=1000')).deliveries;
	/* Argo CD without a Content-Type, and a failed sync. */
	const refused = all.find((d) => d.status === 400).seq;
	const failed = all.find((d) => d.title ===
	    'payment-gateway sync failed').seq;

	const light = await open(demo.base + '/#d=' + refused);
	await light.page.waitForSelector('#detail-body li.diag');
	await light.page.waitForFunction(() => !document.querySelector(
	    '#list .row-desc.loading'));
	const lightFile = await shoot(light.page, 'inbox-light.png');
	assertClean(light.w);

	const dark = await open(demo.base + '/#g=e:component:default/' +
	    'payment-gateway&d=' + failed, { scheme: 'dark' });
	await dark.page.waitForSelector('#detail-body .detail-desc');
	await dark.page.waitForFunction(() => !document.querySelector(
	    '#list .row-desc.loading'));
	assert.equal(await dark.page.evaluate(() => matchMedia(
	    '(prefers-color-scheme: dark)').matches), true);
	const bg = await dark.page.evaluate(() =>
	    getComputedStyle(document.body).backgroundColor);
	assert.notEqual(bg, 'rgb(244, 245, 248)', 'dark mode has its colours');
	const darkFile = await shoot(dark.page, 'inbox-dark.png');
	assertClean(dark.w);

	/* Half of a 1920-pixel laptop screen: nothing sticks out sideways,
	 * the open delivery takes the list's place. */
	await light.page.setViewportSize({ width: 960, height: 900 });
	await light.page.waitForTimeout(100);
	const fit = await light.page.evaluate(() => ({
		wide: document.documentElement.scrollWidth <= innerWidth,
		list: getComputedStyle(document.getElementById('list-pane'))
		    .display,
	}));
	assert.deepEqual(fit, { wide: true, list: 'none' });
	await shoot(light.page, 'inbox-half-detail.png');
	await light.page.keyboard.press('Escape');
	await light.page.waitForSelector('#detail', { state: 'hidden' });
	assert.ok(await light.page.evaluate(() =>
	    document.documentElement.scrollWidth <= innerWidth));
	await shoot(light.page, 'inbox-half.png');

	if (DOC_DIR) {
		fs.copyFileSync(lightFile, path.join(DOC_DIR, 'inbox-light.png'));
		fs.copyFileSync(darkFile, path.join(DOC_DIR, 'inbox-dark.png'));
	}
	await light.page.close();
	await dark.page.close();
});

test('reset asks first, then empties the inbox', T, async () => {
	const { page, w } = await open(srv.base + '/');
	await page.waitForSelector('#list li.row');
	const before = (await mock(srv, '/mock/deliveries?limit=1')).total;
	assert.ok(before > 0);
	await page.click('#reset');
	await page.waitForSelector('#reset-dialog[open]');
	await page.click('#reset-cancel');
	await page.waitForSelector('#reset-dialog', { state: 'hidden' });
	assert.equal((await mock(srv, '/mock/deliveries?limit=1')).total, before);

	await page.click('#reset');
	await page.click('#reset-confirm');
	await page.waitForSelector('#empty:not([hidden]) #first-curl');
	assert.equal((await mock(srv, '/mock/deliveries?limit=1')).total, 0);
	assert.equal(await page.$$eval('#list li.row', (r) => r.length), 0);
	assert.equal(groupOf(await sidebar(page), 'all').total, 0);
	assertClean(w);
	await page.close();
});

test('with --admin-token the page asks for the token', T, async () => {
	const locked = await startServer(['--admin-token', ADMIN]);
	const page = await ctx.newPage();
	const w = watch(page);
	await page.goto(locked.base + '/');
	await page.waitForSelector('#token-dialog[open]');
	await page.fill('#token-input', 'wrong-token');
	await page.press('#token-input', 'Enter');
	await page.waitForSelector('#token-dialog[open] #token-error:not([hidden])');
	await page.fill('#token-input', ADMIN);
	await page.press('#token-input', 'Enter');
	await page.waitForSelector('#live.live-ok');
	await page.waitForSelector('#empty:not([hidden])');
	assert.equal(await send(locked, entityMsg('component:default/locked',
	    'behind a token')), 200);
	await page.waitForSelector('#list li.row');
	assert.equal(await page.textContent('#list li.row .title'),
	    'behind a token');
	/* The browser reports the refused requests; nothing else. */
	assert.deepEqual(w.errors.filter((e) => !/status of 401/.test(e)), []);
	assert.deepEqual(w.dialogs, []);
	await page.close();
});

test('Markdown lists render as lists; the counts say what they count', T,
    async () => {
	const own = await startServer();
	assert.equal(await send(own, entityMsg('component:default/lists',
	    'sync failed', { description: 'Failed resources:\n' +
	    '- deployment/api: **CrashLoopBackOff**\n- job/migrate\n\n' +
	    'Steps:\n1. fix the image\n2. sync again' })), 200);
	const { page, w } = await open(own.base + '/');
	const grp = '#sidebar a[data-group="e:component:default/lists"]';
	await page.waitForSelector(grp + ' .unread-count');

	/* Each count has a tooltip and an accessible name; the sidebar says
	 * which is which. */
	const counts = await page.$eval(grp, (a) =>
	    [...a.querySelectorAll('.counts > span')].map((s) =>
	    [s.className, s.title, s.getAttribute('aria-label')]));
	assert.deepEqual(counts, [
		['unread-count', '1 unread delivery (not opened yet)',
		    '1 unread delivery (not opened yet)'],
		['total-count', '1 delivery in all', '1 delivery in all']]);
	assert.match(await page.textContent('#counts-legend'),
	    /unread\s+all deliveries/);

	await page.click('#list li.row');
	await page.waitForSelector('.detail-desc ul li');
	const desc = await page.$eval('.detail-desc', (d) => ({
		ul: [...d.querySelectorAll('ul > li')].map((li) =>
		    li.textContent),
		ol: [...d.querySelectorAll('ol > li')].map((li) =>
		    li.textContent),
		bold: d.querySelector('ul strong').textContent,
		text: d.textContent,
	}));
	assert.deepEqual(desc.ul, ['deployment/api: CrashLoopBackOff',
	    'job/migrate']);
	assert.deepEqual(desc.ol, ['fix the image', 'sync again']);
	assert.equal(desc.bold, 'CrashLoopBackOff');
	assert.doesNotMatch(desc.text, /- job/);
	assertClean(w);
	await page.close();
});
