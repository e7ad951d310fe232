/*
 * markdown.js: the Markdown subset of descriptions and diagnoses, built as
 * elements (never as HTML); links only for http(s) URLs.
 */
import { MD_MAX } from './config.js';
import { extLink, h, safeHttpUrl } from './dom.js';

/*
 * What Argo CD's templates and Backstage's own UI use: paragraphs (blank
 * lines), line breaks, "- " and "1. " lists, **bold**, *italic* / _italic_,
 * `code`, [text](url) and bare http(s) URLs.  Links to anything but
 * http(s) stay text.
 */
export function markdown(text) {
	const frag = document.createDocumentFragment();
	if (typeof text !== 'string' || text === '')
		return frag;
	if (text.length > MD_MAX) {
		frag.append(h('p', { class: 'plain' }, text));
		return frag;
	}
	for (const para of text.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/)) {
		const t = para.replace(/^\n+|\n+$/g, '');
		if (t.trim() === '')
			continue;
		mdBlock(t, frag);
	}
	return frag;
}

const MD_ITEM = /^[ \t]{0,3}(?:([-*+])|(\d{1,9})[.)])[ \t]+(.*)$/;

/*
 * One paragraph: runs of "- item" / "* item" / "1. item" lines become a
 * list (a line indented under an item continues it), the lines between
 * them a paragraph with line breaks.
 */
function mdBlock(t, frag) {
	let text = [], list = null, kind = null;
	const endText = () => {
		if (text.length) {
			const p = document.createElement('p');
			mdInline(text.join('\n'), p, 0, true);
			frag.append(p);
			text = [];
		}
	};
	for (const line of t.split('\n')) {
		const m = MD_ITEM.exec(line);
		const k = m ? (m[1] ? 'ul' : 'ol') : null;
		if (m) {
			endText();
			if (!list || kind !== k) {
				list = document.createElement(k);
				kind = k;
				if (k === 'ol' && m[2] !== '1')
					list.start = Number(m[2]);
				frag.append(list);
			}
			const li = document.createElement('li');
			mdInline(m[3], li, 0, true);
			list.append(li);
		} else if (list && /^[ \t]+\S/.test(line)) {
			const li = list.lastChild;
			li.append(document.createElement('br'));
			mdInline(line.trim(), li, 0, true);
		} else {
			list = null;
			text.push(line);
		}
	}
	endText();
}

const MD_ESCAPABLE = '\\`*_[]()#+-.!~>{}|';

/* The closing mark for an emphasis opened at from, or -1. */
function mdCloser(s, mark, from) {
	let j = from;
	for (;;) {
		j = s.indexOf(mark, j);
		if (j < 0)
			return -1;
		const before = s[j - 1];
		const after = s[j + mark.length];
		if (mark.length === 1 && after === mark) {
			/* Part of a "**": not ours, step over the pair. */
			j += 2;
			continue;
		}
		if (j > from && !/\s/.test(before) &&
		    !(mark[0] === '_' && after !== undefined &&
		    /[\p{L}\p{N}]/u.test(after)))
			return j;
		j += mark.length;
	}
}

/* [text](url "title"): { text, url, end } or null. */
function mdLink(s, i) {
	const close = s.indexOf(']', i + 1);
	if (close < 0 || s[close + 1] !== '(' || s.lastIndexOf('[', close) !== i)
		return null;
	let depth = 0, j = close + 2;
	for (; j < s.length; j++) {
		if (s[j] === '(')
			depth++;
		else if (s[j] === ')') {
			if (depth === 0)
				break;
			depth--;
		} else if (s[j] === '\n')
			return null;
	}
	if (j >= s.length)
		return null;
	const inner = s.slice(close + 2, j).trim();
	const url = inner.replace(/^<(.*)>$/, '$1').split(/\s+/)[0] || '';
	return { text: s.slice(i + 1, close), url, end: j + 1 };
}

function mdInline(s, parent, depth, links) {
	let buf = '';
	const flush = () => {
		if (buf !== '') {
			parent.append(document.createTextNode(buf));
			buf = '';
		}
	};
	let i = 0;
	while (i < s.length) {
		const c = s[i];
		if (c === '\\' && i + 1 < s.length &&
		    MD_ESCAPABLE.includes(s[i + 1])) {
			buf += s[i + 1];
			i += 2;
			continue;
		}
		if (c === '\n') {
			flush();
			parent.append(document.createElement('br'));
			i++;
			continue;
		}
		if (c === '`') {
			let n = 1;
			while (s[i + n] === '`')
				n++;
			const fence = '`'.repeat(n);
			const end = s.indexOf(fence, i + n);
			if (end > i + n) {
				flush();
				parent.append(h('code', null,
				    s.slice(i + n, end).replace(/\n/g, ' ')));
				i = end + n;
				continue;
			}
			buf += fence;
			i += n;
			continue;
		}
		if ((c === '*' || c === '_') && depth < 6) {
			const mark = s[i + 1] === c ? c + c : c;
			const start = i + mark.length;
			const opens = start < s.length && !/\s/.test(s[start]) &&
			    !(c === '_' && i > 0 && /[\p{L}\p{N}]/u.test(s[i - 1]));
			const end = opens ? mdCloser(s, mark, start) : -1;
			if (end > start) {
				flush();
				const el = document.createElement(
				    mark.length === 2 ? 'strong' : 'em');
				mdInline(s.slice(start, end), el, depth + 1, links);
				parent.append(el);
				i = end + mark.length;
				continue;
			}
			buf += mark;
			i += mark.length;
			continue;
		}
		if (c === '[' && links) {
			const m = mdLink(s, i);
			if (m) {
				flush();
				const href = safeHttpUrl(m.url);
				if (href) {
					const a = extLink(href, null);
					a.title = href;
					mdInline(m.text, a, depth + 1, false);
					parent.append(a);
				} else {
					/* Shown as written, inert. */
					parent.append(h('span', { class: 'md-inert',
					    title: 'not a http(s) link' },
					    s.slice(i, m.end)));
				}
				i = m.end;
				continue;
			}
		}
		if (links && (c === 'h' || c === 'H') &&
		    (i === 0 || /[\s(<]/.test(s[i - 1]))) {
			const m = /^https?:\/\/[^\s<>"'`]+/i.exec(
			    s.slice(i, i + 2048));
			if (m) {
				const url = m[0].replace(/[.,;:!?)\]*_]+$/, '');
				const href = safeHttpUrl(url);
				if (href) {
					flush();
					parent.append(extLink(href, url));
					i += url.length;
					continue;
				}
			}
		}
		buf += c;
		i++;
	}
	flush();
}
