/* jsonview.js: JSON and request bodies, shown highlighted. */
import { JSON_MAX } from './config.js';
import { h } from './dom.js';

export function jsonView(value) {
	const pre = h('pre', { class: 'json' });
	const raw = JSON.stringify(value, null, 2);
	if (raw === undefined)
		return pre;
	if (raw.length > JSON_MAX) {
		pre.textContent = raw;
		return pre;
	}
	jsonInto(pre, value, '');
	return pre;
}

function jsonInto(out, v, ind) {
	const span = (cls, text) => out.append(h('span', { class: cls }, text));
	if (v === null) {
		span('j-null', 'null');
	} else if (Array.isArray(v)) {
		if (v.length === 0) {
			out.append('[]');
			return;
		}
		out.append('[\n');
		v.forEach((x, k) => {
			out.append(ind + '  ');
			jsonInto(out, x, ind + '  ');
			out.append(k < v.length - 1 ? ',\n' : '\n');
		});
		out.append(ind + ']');
	} else if (typeof v === 'object') {
		const keys = Object.keys(v);
		if (keys.length === 0) {
			out.append('{}');
			return;
		}
		out.append('{\n');
		keys.forEach((k, n) => {
			out.append(ind + '  ');
			span('j-key', JSON.stringify(k));
			out.append(': ');
			jsonInto(out, v[k], ind + '  ');
			out.append(n < keys.length - 1 ? ',\n' : '\n');
		});
		out.append(ind + '}');
	} else if (typeof v === 'string') {
		span('j-str', JSON.stringify(v));
	} else if (typeof v === 'number') {
		span('j-num', String(v));
	} else {
		span('j-bool', String(v));
	}
}

/* A body as sent: highlighted JSON when it parses, else the text. */
export function bodyView(text) {
	if (typeof text !== 'string' || text === '')
		return h('p', { class: 'muted' }, '(empty)');
	if (text.length <= JSON_MAX) {
		try {
			return jsonView(JSON.parse(text));
		} catch (e) {
			/* not JSON: shown as it came */
		}
	}
	return h('pre', { class: 'raw' }, text);
}
