/* keys.js: the keyboard shortcuts (the help dialog lists them). */
import { $ } from './dom.js';
import { S } from './state.js';
import { closeDelivery, moveCursor, moveGroup, openDelivery,
    toggleRead } from './actions.js';

function typing(el) {
	return el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' ||
	    el.tagName === 'SELECT' || el.isContentEditable);
}

export function onKey(ev) {
	if (ev.ctrlKey || ev.metaKey || ev.altKey)
		return;
	if (document.querySelector('dialog[open]'))
		return;
	const t = ev.target;
	if (typing(t)) {
		if (ev.key === 'Escape' && t.type === 'search') {
			if (t.value) {
				t.value = '';
				t.dispatchEvent(new Event('input'));
			} else
				t.blur();
			ev.preventDefault();
		}
		return;
	}
	const inSidebar = t.closest && t.closest('#sidebar');
	switch (ev.key) {
	case 'j':
	case 'ArrowDown':
		if (inSidebar && ev.key === 'ArrowDown') {
			focusSibling(t, 1);
			break;
		}
		moveCursor(1);
		break;
	case 'k':
	case 'ArrowUp':
		if (inSidebar && ev.key === 'ArrowUp') {
			focusSibling(t, -1);
			break;
		}
		moveCursor(-1);
		break;
	case 'Enter':
	case 'o':
		if (t.tagName === 'A' || t.tagName === 'BUTTON' ||
		    t.tagName === 'SUMMARY')
			return;
		if (S.focus)
			openDelivery(S.focus);
		break;
	case 'Escape':
		closeDelivery();
		break;
	case 'u':
		if (S.view.d || S.focus)
			toggleRead(S.view.d || S.focus);
		break;
	case '[':
		moveGroup(-1);
		break;
	case ']':
		moveGroup(1);
		break;
	case '/':
		$('f-q').focus();
		$('f-q').select();
		break;
	case '?':
		$('help-dialog').showModal();
		break;
	default:
		return;
	}
	ev.preventDefault();
}

/* Arrow keys within the sidebar move between its links. */
function focusSibling(el, delta) {
	const links = Array.from(document.querySelectorAll('#sidebar a.group'));
	const idx = links.indexOf(el.closest('a.group'));
	const next = links[Math.max(0, Math.min(links.length - 1, idx + delta))];
	if (next)
		next.focus();
}
