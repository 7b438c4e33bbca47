/* The action editor: CodeMirror over the code <textarea>, highlighting by the chosen kind's family.
   Without JavaScript the textarea is the editor and the form posts it; with it, CodeMirror copies its text back
   into the textarea when the form is submitted (fromTextArea), so the server sees the same form either way. */
(function () {
  "use strict";
  var area = document.getElementById("code");
  if (!area || typeof window.CodeMirror === "undefined") { return; }
  var form = area.form;
  var kind = document.getElementById("kind");
  var unsaved = document.getElementById("unsaved");
  var modes = JSON.parse(area.getAttribute("data-modes") || "{}");
  var dirty = false;
  var leaving = false;

  function modeOf(value) {  // "python:3" → the python family's mode; null is plain text
    return modes[String(value || "").split(":")[0]] || null;
  }

  function save() {
    if (form.requestSubmit) { form.requestSubmit(); } else { editor.save(); form.submit(); }
  }

  function indent(cm) {  // spaces, never a tab character: Python refuses mixed indentation
    if (cm.somethingSelected()) { cm.indentSelection("add"); return; }
    cm.replaceSelection(new Array(cm.getOption("indentUnit") + 1).join(" "), "end");
  }

  area.required = false;  // hidden under the editor, which fills it in only once the form is sent; the server checks
  var editor = window.CodeMirror.fromTextArea(area, {
    mode: modeOf(kind && kind.value), lineNumbers: true, indentUnit: 4, matchBrackets: true,
    extraKeys: {"Ctrl-S": save, "Cmd-S": save, "Tab": indent}
  });
  editor.getWrapperElement().setAttribute("data-editor", "codemirror");  // for the browser test and the CSS

  if (kind) {
    kind.addEventListener("change", function () { editor.setOption("mode", modeOf(kind.value)); });
  }
  editor.on("change", function () {
    dirty = true;
    if (unsaved) { unsaved.hidden = false; }
  });
  form.addEventListener("submit", function () { leaving = true; });
  window.addEventListener("beforeunload", function (event) {
    if (dirty && !leaving) { event.preventDefault(); event.returnValue = ""; }
  });
}());
