/*
 * dom.js: small helpers for the page: elements built without parsing HTML,
 * http(s)-only links, times, the toast and the clipboard.
 */

export const $ = (id) => document.getElementById(id);

/* Build an element.  attrs: class, text, and plain attributes; functions
 * under on<event> become listeners.  Children: nodes, strings (text), arrays,
 * null.  No path here ever parses HTML. */
export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);
	if (attrs) {
		for (const [k, v] of Object.entries(attrs)) {
			if (v === null || v === undefined || v === false)
				continue;
			if (k === 'class')
				el.className = v;
			else if (k === 'text')
				el.textContent = v;
			else if (k.startsWith('on') && typeof v === 'function')
				el.addEventListener(k.slice(2), v);
			else
				el.setAttribute(k, v === true ? '' : String(v));
		}
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false)
			continue;
		if (Array.isArray(c))
			append(el, c);
		else if (c instanceof Node)
			el.append(c);
		else
			el.append(document.createTextNode(String(c)));
	}
}

/* An absolute http(s) URL, normalised, or null for anything else
 * (javascript:, data:, relative, unparsable). */
export function safeHttpUrl(u) {
	if (typeof u !== 'string' || u.length > 8192)
		return null;
	let url;
	try {
		url = new URL(u);
	} catch (e) {
		return null;
	}
	if (url.protocol !== 'http:' && url.protocol !== 'https:')
		return null;
	return url.href;
}

export function extLink(href, text, cls) {
	return h('a', { href, target: '_blank', rel: 'noopener noreferrer',
	    class: cls || null }, text);
}

export function plural(n, one, many) {
	return n + ' ' + (n === 1 ? one : (many || one + 's'));
}

export function relTime(ms, now) {
	const s = Math.round((now - ms) / 1000);
	if (s < 10)
		return 'just now';
	if (s < 60)
		return s + ' s ago';
	const m = Math.round(s / 60);
	if (m < 60)
		return m + ' min ago';
	const hrs = Math.round(m / 60);
	if (hrs < 24)
		return hrs + ' h ago';
	const d = Math.round(hrs / 24);
	if (d < 2)
		return 'yesterday';
	if (d < 30)
		return d + ' days ago';
	return new Date(ms).toLocaleDateString();
}

export function exactTime(ms) {
	const d = new Date(ms);
	return d.toLocaleString(undefined, { dateStyle: 'medium',
	    timeStyle: 'medium' }) + '.' + String(ms % 1000).padStart(3, '0') +
	    '  (' + d.toISOString() + ')';
}

export function timeEl(ms) {
	return h('time', { class: 'rel', datetime: new Date(ms).toISOString(),
	    title: exactTime(ms), 'data-ms': ms }, relTime(ms, Date.now()));
}

export function shellQuote(s) {
	return "'" + String(s).replace(/'/g, "'\\''") + "'";
}

let toastTimer = 0;

export function toast(msg) {
	const t = $('toast');
	t.textContent = msg;
	t.hidden = false;
	clearTimeout(toastTimer);
	toastTimer = setTimeout(() => { t.hidden = true; }, 2500);
}

export async function copyText(text) {
	try {
		await navigator.clipboard.writeText(text);
	} catch (e) {
		/* Not a secure context (http://hostname): the old way. */
		const ta = h('textarea', { class: 'offscreen', readonly: true });
		ta.value = text;
		document.body.append(ta);
		ta.select();
		try {
			document.execCommand('copy');
		} catch (e2) {
			/* nothing more to try */
		}
		ta.remove();
	}
	toast('Copied to the clipboard');
}

export function linkText(href) {
	try {
		const u = new URL(href);
		return u.host + (u.pathname.length > 1 ? u.pathname : '') +
		    ' \u2197';
	} catch (e) {
		return href;
	}
}
