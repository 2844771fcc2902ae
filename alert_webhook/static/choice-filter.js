// A search box over a long <select> (the letter form's OPDs): typing keeps only the choices whose text
// holds every word typed, in any case and without accents (a name, or an abbreviation in parentheses);
// when one choice is left it is chosen. The empty first choice always stays, so nothing is chosen for
// the person. Without this script the box stays hidden and the select works as it is.
(function () {
  'use strict';
  const fold = (text) => text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();

  function wire(box) {
    const select = document.getElementById(box.dataset.filters);
    if (!select) return;
    const status = document.getElementById(box.dataset.status);
    const [empty, ...choices] = [...select.options];
    const keys = new Map(choices.map((option) => [option, fold(option.text + ' ' + option.value)]));
    box.hidden = false;
    box.addEventListener('input', () => {
      const words = fold(box.value).split(/\s+/).filter(Boolean);
      const chosen = select.value;
      const shown = choices.filter((option) => words.every((word) => keys.get(option).includes(word)));
      select.replaceChildren(empty, ...shown);
      if (shown.some((option) => option.value === chosen)) select.value = chosen;
      else select.value = shown.length === 1 ? shown[0].value : '';
      if (status) status.textContent = shown.length ? '' : box.dataset.none;
    });
    // Enter in the search box finishes the search; it does not send the form.
    box.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        select.focus();
      }
    });
  }

  document.querySelectorAll('input[data-filters]').forEach(wire);
})();
