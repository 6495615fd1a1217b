/* The notification rule's parameter mapping, chosen per parameter rather than typed as
   JSON (apps/notifications/forms.py). The JSON box stays the posted field: this script
   hides it, builds one select per parameter of the chosen template from the data block
   beside it, and writes the choices back into it. Without this script the box is used. */
(function () {
  "use strict";

  function element(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([name, value]) => node.setAttribute(name, value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function format(text, values) {
    return text.replace(/%\((\w+)\)s/g, (_all, name) => values[name]);
  }

  function parsed(box) {
    try {
      const value = JSON.parse(box.value.trim() || "{}");
      return value && typeof value === "object" && !Array.isArray(value) ? value : null;
    } catch (error) {
      return null;
    }
  }

  function init(picker) {
    const box = document.getElementById(picker.dataset.json);
    const data = JSON.parse(document.getElementById(picker.dataset.choices).textContent);
    const words = data.words;
    const template = document.getElementById("id_template");
    const eventType = document.getElementById("id_event_type");
    if (!box || !template || parsed(box) === null) return; // not JSON we can show: the box stays

    function write() {
      const mapping = {};
      picker.querySelectorAll(".mapping-row").forEach((row) => {
        const source = row.source();
        if (source) mapping[row.dataset.slot] = source;
      });
      box.value = JSON.stringify(mapping);
    }

    function row(slot, source, events) {
      const id = "mapping-" + slot.slot.replace(/[^A-Za-z0-9_-]/g, "-");
      const line = element("div", { class: "mapping-row", "data-slot": slot.slot });
      const select = element("select", { id: id });
      select.append(element("option", { value: "" }, words.prefill));
      const contact = element("optgroup", { label: words.contact });
      data.contact.forEach(([value, label]) => contact.append(element("option", { value: value }, label)));
      select.append(contact);
      const event = element("optgroup", { label: words.event });
      events.forEach((value) => event.append(element("option", { value: value }, value.slice(6))));
      select.append(event);
      select.append(element("option", { value: "text:" }, words.text));
      select.append(element("option", { value: "event:" }, words.other));
      const extra = element("input", { type: "text", id: id + "-value" });
      extra.hidden = true;

      const known = Array.from(select.options).some((option) => option.value === source && !option.value.endsWith(":"));
      if (source && known) {
        select.value = source;
      } else if (source && source.startsWith("text:")) {
        select.value = "text:";
        extra.value = source.slice(5);
      } else if (source && source.startsWith("event.")) {
        select.value = "event:";
        extra.value = source.slice(6);
      } else if (source) {
        // Not one we offer (the server says what is wrong with it): kept as it is.
        select.append(element("option", { value: source }, source));
        select.value = source;
      }

      function showExtra() {
        const mode = select.value;
        extra.hidden = !(mode === "text:" || mode === "event:");
        extra.setAttribute("aria-label", format(mode === "text:" ? words.text_label : words.other_label,
                                                { slot: slot.label }));
      }
      line.source = () => {
        if (select.value === "text:") return extra.value ? "text:" + extra.value : "";
        if (select.value === "event:") return extra.value.trim() ? "event." + extra.value.trim() : "";
        return select.value;
      };
      // Another event type: its known fields are offered, in place (the rows, their
      // choices and the focus stay); a chosen field it lacks is kept as typed.
      line.offerEvents = (fields) => {
        const value = line.source();
        event.replaceChildren(...fields.map((field) => element("option", { value: field }, field.slice(6))));
        if (fields.includes(value)) {
          select.value = value;
        } else if (value.startsWith("event.") && select.value !== "event:") {
          select.value = "event:";
          extra.value = value.slice(6);
          showExtra();
        }
      };
      select.addEventListener("change", () => { showExtra(); write(); if (!extra.hidden) extra.focus(); });
      extra.addEventListener("input", write);
      showExtra();

      line.append(element("label", { for: id }, slot.label), select, extra);
      if (slot.example) {
        line.append(element("span", { class: "mapping-example" }, format(words.example, { example: slot.example })));
      }
      return line;
    }

    function render() {
      const mapping = parsed(box) || {};
      const slots = data.templates[template.value];
      const events = (eventType && data.events[eventType.value.trim()]) || [];
      picker.replaceChildren();
      if (!slots) {
        picker.append(element("p", { class: "help" }, words.none));
        return;
      }
      if (!slots.length) {
        picker.append(element("p", { class: "help" }, words.no_parameters));
      }
      slots.forEach((slot) => picker.append(row(slot, mapping[slot.slot], events)));
    }

    box.hidden = true;
    picker.hidden = false;
    render();
    template.addEventListener("change", () => {
      // Parameters of the new template keep what was chosen for the same slot.
      render();
      write();
    });
    if (eventType) {
      eventType.addEventListener("change", () => {
        const fields = data.events[eventType.value.trim()] || [];
        picker.querySelectorAll(".mapping-row").forEach((line) => line.offerEvents(fields));
        write();
      });
    }
  }

  function start() {
    document.querySelectorAll(".mapping-picker").forEach(init);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
