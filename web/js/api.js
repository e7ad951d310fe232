/*
 * api.js: talking to /mock/ (doc/mock-api.md): requests with the admin
 * token (asked for when the server wants one), full deliveries fetched a
 * few at a time, and the live event stream, whose events go to the
 * handlers startEvents() was given.
 */
import { FETCHES, TOKEN_KEY } from './config.js';
import { $ } from './dom.js';
import { S, cacheFull } from './state.js';

class ApiError extends Error {
	constructor(status, message) {
		super(message);
		this.status = status;
	}
}

export async function api(path, opts) {
	const headers = { Accept: 'application/json' };
	if (S.token)
		headers.Authorization = 'Bearer ' + S.token;
	const res = await fetch(path, Object.assign({ headers,
	    cache: 'no-store' }, opts || {}));
	if (res.status === 401) {
		await askToken(S.token !== null);
		return api(path, opts);
	}
	let body = null;
	try {
		body = await res.json();
	} catch (e) {
		/* an empty or non-JSON answer */
	}
	if (!res.ok) {
		const msg = body && body.error && body.error.message ?
		    body.error.message : res.status + ' ' + res.statusText;
		throw new ApiError(res.status, msg);
	}
	return body;
}

let tokenWaiters = null;

function askToken(wasWrong) {
	if (tokenWaiters)
		return new Promise((resolve) => tokenWaiters.push(resolve));
	tokenWaiters = [];
	return new Promise((resolve) => {
		tokenWaiters.push(resolve);
		const dlg = $('token-dialog');
		$('token-error').hidden = !wasWrong;
		$('token-input').value = '';
		dlg.addEventListener('close', function done() {
			dlg.removeEventListener('close', done);
			const t = $('token-input').value.trim();
			if (t === '') {
				/* Dismissed: ask again, nothing works
				 * without it. */
				setTimeout(() => {
					const w = tokenWaiters;
					tokenWaiters = null;
					askToken(false).then(() =>
					    w.forEach((r) => r()));
				}, 0);
				return;
			}
			S.token = t;
			try {
				sessionStorage.setItem(TOKEN_KEY, t);
			} catch (e) {
				/* kept in memory only */
			}
			const w = tokenWaiters;
			tokenWaiters = null;
			w.forEach((r) => r());
			/* A stream refused for the old token: again. */
			if (S.es)
				restartEvents();
		});
		dlg.showModal();
		$('token-input').focus();
	});
}

export function qs(params) {
	const parts = [];
	for (const [k, v] of Object.entries(params))
		if (v !== '' && v !== null && v !== undefined)
			parts.push(encodeURIComponent(k) + '=' +
			    encodeURIComponent(v));
	return parts.length ? '?' + parts.join('&') : '';
}

/* The full delivery, from the cache or fetched (a few at a time). */
export function getFull(seq) {
	if (S.full.has(seq))
		return Promise.resolve(S.full.get(seq));
	if (S.pending.has(seq))
		return S.pending.get(seq);
	const p = new Promise((resolve, reject) => {
		S.queue.push({ seq, resolve, reject });
	}).finally(() => S.pending.delete(seq));
	S.pending.set(seq, p);
	pump();
	return p;
}

function pump() {
	while (S.active < FETCHES && S.queue.length > 0) {
		const job = S.queue.shift();
		S.active++;
		api('mock/deliveries/' + job.seq).then((d) => {
			cacheFull(d);
			job.resolve(d);
		}, job.reject).finally(() => {
			S.active--;
			pump();
		});
	}
}

function setLive(state, text) {
	const el = $('live');
	el.className = 'live live-' + state;
	el.textContent = text;
}

/* What to do with the stream's events: { delivery(d), reset() }. */
let eventHandlers = null;

export function startEvents(handlers) {
	if (handlers)
		eventHandlers = handlers;
	if (S.es)
		S.es.close();
	const params = { since: S.cursor };
	if (S.token)
		params.access_token = S.token;
	const es = new EventSource('mock/events' + qs(params));
	S.es = es;
	setLive('wait', 'connecting');
	es.onopen = () => setLive('ok', 'live');
	es.onerror = () => {
		if (es.readyState === EventSource.CLOSED) {
			setLive('down', 'offline');
			/* A refused stream (401, a restarted server): try
			 * again from scratch in a while. */
			setTimeout(() => {
				if (S.es === es)
					restartEvents();
			}, 3000);
		} else
			setLive('wait', 'reconnecting');
	};
	es.addEventListener('delivery', (ev) => {
		let d;
		try {
			d = JSON.parse(ev.data);
		} catch (e) {
			return;
		}
		eventHandlers.delivery(d);
	});
	es.addEventListener('reset', () => eventHandlers.reset());
}

function restartEvents() {
	if (S.es)
		S.es.close();
	S.es = null;
	startEvents();
}
