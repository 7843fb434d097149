"""The chat UI's look and its browser-side scripts: the page's CSS (the `cq-*` classes the renderers write) and the
JavaScript that makes citation chips and evidence quotes open in the source panel.
"""

CHIP_JS = r"""
window.cqOpenChip = (chip) => {
  const number = (pattern) => Number((chip.className.match(pattern) || [])[1]);
  trigger('click', {answer: number(/cq-answer-(\d+)/), cite: number(/cq-cite-(\d+)/)});
};
if (!window.cqChipsWired) {
  window.cqChipsWired = true;
  const chipOf = (e) => (
    e.target instanceof Element ? e.target.closest('#cq-chat .cq-inline-chip[role=button]') : null);
  const open = (e, chip) => { e.preventDefault(); e.stopPropagation(); window.cqOpenChip(chip); };
  document.addEventListener('click', (e) => { const chip = chipOf(e); if (chip) open(e, chip); }, true);
  document.addEventListener('keydown', (e) => {
    const chip = chipOf(e);
    if (chip && (e.key === 'Enter' || e.key === ' ')) open(e, chip);
  }, true);
}
"""  # a click on a chip under an answer (captured before the chat's own select) opens it in the source panel

QUOTE_JS = """
element.querySelectorAll('[data-evidence]').forEach((quote) => {
  const open = () => trigger('click', {evidence: Number(quote.dataset.evidence)});
  quote.addEventListener('click', open);
  quote.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } });
});
"""  # a click on a quote (not elsewhere on the card) asks the server for that quote in its context

CSS = """
.gradio-container { max-width: 1360px !important; margin: auto; }
.cq-chips { gap: 6px; }
.cq-chips-head { padding-left: 4px; }
.cq-chip { justify-content: flex-start !important; text-align: left !important; white-space: normal !important;
  border-radius: 16px !important; font-size: 0.85rem !important; background: #eef4ff !important;
  border: 1px solid #b9cdf5 !important; color: #1d3b72 !important; }
.cq-chip:hover { background: #dbe7ff !important; }
.cq-hint { color: var(--body-text-color-subdued); font-style: italic; padding: 8px 0; }
.cq-source .cq-label { font-weight: 600; margin-bottom: 4px; }
.cq-source dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; margin: 0 0 8px 0;
  font-size: 0.85rem; }
.cq-source dt { color: var(--body-text-color-subdued); }
.cq-source dd { margin: 0; }
.cq-passage { white-space: pre-wrap; line-height: 1.55; max-height: 440px; overflow-y: auto; padding: 10px 12px;
  border: 1px solid var(--border-color-primary); border-radius: 8px; background: var(--background-fill-secondary); }
.cq-passage mark { background: #ffe58a; color: #1a1a1a; padding: 1px 0; border-radius: 2px; }
#cq-eval table, #cq-eval-claims table { display: block; overflow-x: auto; border: none; font-size: 0.85rem; }
#cq-eval th, #cq-eval td, #cq-eval-claims th, #cq-eval-claims td { white-space: nowrap; padding: 4px 10px; }
.cq-warn { color: #8a4b00; background: #fff4e0; border-radius: 6px; padding: 8px 10px; margin: 6px 0; }
.cq-ok { color: #1b5e20; background: #e8f5e9; border-radius: 6px; padding: 8px 10px; margin: 6px 0; }
mark.cq-match { background: #d9f2e1; color: inherit; border-bottom: 2px solid #2e8b57; padding: 0 1px; }
mark.cq-conflict { background: #ffd6d6; color: #8b0000; font-weight: 600; border-bottom: 3px solid #d32f2f;
  padding: 0 2px; }
.cq-legend { font-size: 0.85rem; color: #555; padding: 4px 0; }
#cq-check-side { position: sticky; top: 8px; align-self: flex-start; }
.cq-card-box { margin-top: 10px; gap: 0 !important; border: 1px solid var(--border-color-primary); border-radius: 8px;
  overflow: hidden; background: var(--background-fill-primary); }
.cq-card { padding: 10px 12px; border-left: 6px solid #9e9e9e; line-height: 1.5; color: var(--body-text-color); }
.cq-note-toggle { border-radius: 0 !important; }
.cq-card.cq-supported { border-left-color: #2e7d32; }
.cq-card.cq-close { border-left-color: #9a6700; }
.cq-card.cq-contradicted { border-left-color: #c62828; }
.cq-card-head { display: flex; gap: 10px; align-items: center; margin-bottom: 6px; font-size: 0.85rem; }
.cq-badge { font-weight: 700; padding: 2px 10px; border-radius: 12px; color: #fff; background: #616161; }
.cq-badge.cq-supported { background: #2e7d32; }
.cq-badge.cq-close { background: #9a6700; }
.cq-unmatched { margin: 4px 0; color: #6b4f00; }
.cq-badge.cq-contradicted { background: #c62828; }
.cq-conf, .cq-card-no { color: #555; }
.cq-card-no { margin-left: auto; }
.cq-noted { color: #1d3b72; background: #eef4ff; border-radius: 10px; padding: 1px 8px; }
.cq-claim { font-size: 1.05rem; margin-bottom: 6px; }
.cq-mismatches { margin: 4px 0 8px 18px; color: #8b0000; font-size: 0.9rem; }
.cq-evidence-head { font-size: 0.85rem; font-weight: 600; color: #444; }
.cq-quote { white-space: pre-wrap; margin: 4px 0 2px 0; padding: 6px 10px; border-left: 3px solid #b9cdf5;
  background: var(--background-fill-secondary); border-radius: 4px; cursor: pointer; }
.cq-quote:hover, .cq-quote:focus { background: #eef4ff; outline: 1px solid #b9cdf5; }
.cq-quote-src { font-size: 0.8rem; color: #555; margin-bottom: 4px; }
.cq-caption { font-size: 0.85rem; font-weight: 600; margin-bottom: 4px; }
.cq-inline-chips { display: flex; flex-wrap: wrap; gap: 6px; margin: 2px 0 4px 0; }
.cq-inline-chip { display: inline-block; padding: 2px 10px; border-radius: 14px; font-size: 0.85rem;
  background: #eef4ff; border: 1px solid #b9cdf5; color: #1d3b72; line-height: 1.45; }
.cq-inline-chip[role=button] { cursor: pointer; }
.cq-inline-chip[role=button]:hover, .cq-inline-chip[role=button]:focus { background: #dbe7ff;
  outline: 1px solid #7fa3e6; }
.cq-related { margin: 0; padding-left: 18px; }
.cq-related li { margin: 4px 0; }
#cq-chip-bridge { display: none !important; }
.cq-page { margin: 0 0 10px 0; }
.cq-page figcaption { font-size: 0.8rem; color: var(--body-text-color-subdued); margin-bottom: 4px; }
.cq-page img { display: block; width: 100%; height: auto; border: 1px solid var(--border-color-primary);
  border-radius: 6px; box-shadow: 0 1px 3px rgba(0, 0, 0, 0.12); }
#cq-upload-box, #cq-remove-box { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px; }
"""
