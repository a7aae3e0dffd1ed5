// Progressive enhancement only: every console page works without this script.
// Copy buttons: <button data-copy="element-id"> copies that element's text to the clipboard.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent).then(() => {
    button.textContent = "Copied";
  });
});

// The policy editor: findings of validate-policy beside their lines as one types (the Check
// button does the same without script).
(() => {
  const editor = document.getElementById("policy-editor");
  const textarea = document.getElementById("document");
  const numbered = document.getElementById("numbered");
  const count = document.getElementById("findings-count");
  if (!editor || !textarea || !numbered) return;
  const csrf = editor.querySelector("input[name=csrf]").value;
  let timer = null;
  let asked = 0;
  const render = (text, findings) => {
    numbered.replaceChildren();
    text.split("\n").forEach((line, at) => {
      const item = document.createElement("li");
      item.dataset.line = String(at + 1);
      const code = document.createElement("code");
      code.textContent = line;
      item.append(code);
      for (const finding of findings.filter((f) => f.line === at + 1)) {
        const note = document.createElement("span");
        note.className = "finding";
        note.setAttribute("role", "note");
        note.textContent = `${finding.kind} ${finding.code}: ${finding.details}`;
        item.append(note);
      }
      numbered.append(item);
    });
    for (const finding of findings.filter((f) => f.line === null)) {
      const note = document.createElement("li");
      note.className = "finding";
      note.textContent = `${finding.kind} ${finding.code}: ${finding.details}`;
      numbered.append(note);
    }
    if (count) count.textContent = `${findings.length} findings`;
  };
  const check = async () => {
    const text = textarea.value;
    const mine = ++asked;
    const response = await fetch("/console/policies/validate", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf, document: text }),
      credentials: "same-origin",
    });
    if (!response.ok || mine !== asked) return;
    const answer = await response.json();
    render(text, answer.findings);
  };
  textarea.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  });
})();
