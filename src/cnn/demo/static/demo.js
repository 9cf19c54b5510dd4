// The draw-a-digit page: draw on #digit-canvas, send the ink to POST /api/predict, show the
// prepared 28x28 input, the prediction, the ten probabilities and every layer's output.
"use strict";

const SENT_SIDE = 70;           // the 280x280 drawing is sent as 70x70: 4x4 pixels averaged
const STROKE_WIDTH = 20;        // pixels of the drawing canvas
const DEBOUNCE_MS = 60;         // while drawing, a change is sent this long after it is made
const MAP_SIDE = 56;            // CSS pixels of the longer side of one feature map
const INPUT_VIEW_SIDE = 168;    // CSS pixels of the 28x28 input view
const WIDE_VECTOR = 128;        // longer vectors are drawn as a strip of colours, not bars

const page = {
  model: null,                  // GET /api/model
  inFlight: null,               // the AbortController of the one request in flight ...
  pending: false,               // ... and one more when the drawing changed meanwhile
  timer: null,
  drawing: false,
  inked: false,
  strokeEndedAt: null,          // performance.now() at the end of the last stroke
  answeredStroke: false,
};

const canvas = document.getElementById("digit-canvas");
const pen = canvas.getContext("2d", { willReadFrequently: true });

function status(text) {
  document.getElementById("status").textContent = text;
}

// Diverging colours: white at 0, red for positive values, blue for negative, scaled by `limit`.
function colour(value, limit) {
  const t = limit > 0 ? Math.max(-1, Math.min(1, value / limit)) : 0;
  const fade = Math.round(255 * (1 - Math.abs(t)));
  return t >= 0 ? [255, fade, fade] : [fade, fade, 255];
}

function largestMagnitude(values) {
  let limit = 0;
  for (const value of values.flat(Infinity)) limit = Math.max(limit, Math.abs(value));
  return limit;
}

function paintGrid(target, rows, limit) {
  const height = rows.length, width = rows[0].length;
  target.width = width;
  target.height = height;
  const context = target.getContext("2d");
  const image = context.createImageData(width, height);
  for (let i = 0; i < height; i++) {
    for (let j = 0; j < width; j++) {
      const [r, g, b] = colour(rows[i][j], limit);
      const at = 4 * (i * width + j);
      image.data.set([r, g, b, 255], at);
    }
  }
  context.putImageData(image, 0, 0);
}

// One bar per value, up from a middle line (down for negative values); short vectors, such as
// the ten scores, get their indices under the bars.
function paintBars(target, values, limit) {
  const barWidth = Math.max(2, Math.floor(560 / values.length));
  const labelled = values.length <= 16;
  const plot = 60;
  target.width = barWidth * values.length;
  target.height = plot + (labelled ? 14 : 0);
  const context = target.getContext("2d");
  const middle = values.some((v) => v < 0) ? plot / 2 : plot - 1;
  const room = middle === plot / 2 ? plot / 2 - 1 : plot - 2;
  context.clearRect(0, 0, target.width, target.height);
  values.forEach((value, k) => {
    const [r, g, b] = colour(value, limit);
    const reach = limit > 0 ? (value / limit) * room : 0;
    context.fillStyle = `rgb(${Math.min(r, 230)}, ${Math.min(g, 230)}, ${Math.min(b, 230)})`;
    context.fillRect(k * barWidth, Math.min(middle, middle - reach), barWidth - 1,
                     Math.max(1, Math.abs(reach)));
    if (labelled) {
      context.fillStyle = "#333";
      context.font = "11px sans-serif";
      context.textAlign = "center";
      context.fillText(String(k), (k + 0.5) * barWidth, plot + 11);
    }
  });
}

function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

// ---- the model's description: one section per layer, the first layer's filters ----

function describe(model) {
  page.model = model;
  const origin = model.weights;
  const accuracy = origin.test_accuracy !== undefined
    ? `, test accuracy ${(100 * origin.test_accuracy).toFixed(2)}%` : "";
  const command = origin.command ? ` trained by "${origin.command}"${accuracy}` : "";
  document.getElementById("model-summary").textContent =
    `${model.model}, ${model.parameters.toLocaleString("en")} parameters; weights: ` +
    `${origin.file}${command}. Draw a digit on the left.`;
  const layers = document.getElementById("layers");
  model.layers.forEach((layer) => {
    const section = element("section", "layer");
    section.dataset.index = layer.index;
    const title = element("h3", null, `${layer.index + 1}. ${layer.name} `);
    title.append(element("span", "shape",
      `→ ${layer.shape.join("×")}, ${layer.parameters.toLocaleString("en")} parameters`));
    section.append(title, element("p", "caption", layer.caption), element("div", "maps"));
    layers.append(section);
  });
  const probabilities = document.getElementById("probabilities");
  for (let digit = 0; digit < 10; digit++) {
    const row = element("div", "probability");
    const track = element("div", "track");
    track.append(element("div", "bar"));
    row.append(element("span", "digit", String(digit)), track, element("span", "value", ""));
    probabilities.append(row);
  }
  if (model.filters) {
    const filters = document.getElementById("filters");
    const limit = largestMagnitude(model.filters.values);
    model.filters.values.forEach((weights, k) => {
      const picture = element("canvas", "filter");
      picture.title = `filter ${k + 1} of ${model.filters.name}`;
      paintGrid(picture, weights, limit);
      picture.style.width = picture.style.height = "40px";
      filters.append(picture);
    });
  }
}

// ---- drawing ----

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * canvas.width / box.width,
          (event.clientY - box.top) * canvas.height / box.height];
}

function startStroke(event) {
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  page.drawing = true;
  const [x, y] = point(event);
  pen.beginPath();
  pen.moveTo(x, y);
  pen.lineTo(x + 0.01, y);
  pen.stroke();
  page.inked = true;
}

function continueStroke(event) {
  if (!page.drawing) return;
  event.preventDefault();
  const moves = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const move of moves.length ? moves : [event]) {
    const [x, y] = point(move);
    pen.lineTo(x, y);
  }
  pen.stroke();
  if (page.timer === null) {
    page.timer = setTimeout(() => predict(false), DEBOUNCE_MS);
  }
}

function endStroke(event) {
  if (!page.drawing) return;
  page.drawing = false;
  if (canvas.hasPointerCapture(event.pointerId)) canvas.releasePointerCapture(event.pointerId);
  page.strokeEndedAt = performance.now();
  page.answeredStroke = false;
  predict(true);
}

function clearDrawing() {
  pen.clearRect(0, 0, canvas.width, canvas.height);
  page.inked = false;
  clearTimeout(page.timer);
  page.timer = null;
  if (page.inFlight) page.inFlight.abort();
  document.getElementById("prediction").textContent = "?";
  document.querySelectorAll(".probability").forEach((row) => {
    row.classList.remove("best");
    row.querySelector(".bar").style.width = "0";
    row.querySelector(".value").textContent = "";
  });
  document.querySelectorAll("#layers .maps").forEach((maps) => maps.replaceChildren());
  document.getElementById("input-canvas").getContext("2d", { willReadFrequently: true })
    .clearRect(0, 0, 28, 28);
  clearField();
  status("");
}

// The drawing's ink (its alpha) averaged over 2x2 pixels: SENT_SIDE x SENT_SIDE values in [0, 1].
function ink() {
  const data = pen.getImageData(0, 0, canvas.width, canvas.height).data;
  const block = canvas.width / SENT_SIDE;
  const rows = [];
  for (let i = 0; i < SENT_SIDE; i++) {
    const row = new Array(SENT_SIDE);
    for (let j = 0; j < SENT_SIDE; j++) {
      let sum = 0;
      for (let di = 0; di < block; di++) {
        for (let dj = 0; dj < block; dj++) {
          sum += data[4 * ((i * block + di) * canvas.width + j * block + dj) + 3];
        }
      }
      row[j] = Math.round(1000 * sum / (255 * block * block)) / 1000;
    }
    rows.push(row);
  }
  return rows;
}

// ---- asking the server ----

// Send the drawing. While drawing, a change waits for the request in flight; at a stroke's end
// (`urgent`) the request in flight is dropped and the finished drawing sent at once.
async function predict(urgent) {
  clearTimeout(page.timer);
  page.timer = null;
  if (!page.inked || !page.model) return;
  if (page.inFlight) {
    if (!urgent) {
      page.pending = true;
      return;
    }
    page.inFlight.abort();
  }
  const request = new AbortController();
  page.inFlight = request;
  page.pending = false;
  const askedAt = performance.now();
  try {
    const response = await fetch("api/predict", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ pixels: ink() }),
      signal: request.signal,
    });
    const answer = await response.json();
    if (!response.ok) {
      status(answer.error);
    } else if (page.inked && page.inFlight === request) {
      show(answer);
      status("");
      if (page.strokeEndedAt !== null && askedAt >= page.strokeEndedAt && !page.answeredStroke) {
        page.answeredStroke = true;
        document.body.dataset.strokeToAnswerMs = (performance.now() - page.strokeEndedAt).toFixed(1);
      }
    }
  } catch (error) {
    if (error.name !== "AbortError") {
      status(`the server did not answer (${error.message}); is cnn-demo still running?`);
    }
  } finally {
    if (page.inFlight === request) {
      page.inFlight = null;
      if (page.pending) predict(false);
    }
  }
}

// ---- showing an answer ----

function show(answer) {
  document.getElementById("prediction").textContent = String(answer.prediction);
  document.querySelectorAll(".probability").forEach((row, digit) => {
    const p = answer.probabilities[digit];
    row.classList.toggle("best", digit === answer.prediction);
    row.querySelector(".bar").style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector(".value").textContent = `${(100 * p).toFixed(1)}%`;
  });
  showInput(answer.input);
  const sections = document.querySelectorAll("#layers .layer");
  answer.layers.forEach((layer, index) => showLayer(sections[index], layer, index));
}

function showInput(rows) {
  const context = document.getElementById("input-canvas").getContext("2d", { willReadFrequently: true });
  const image = context.createImageData(28, 28);
  rows.flat().forEach((value, k) => {
    const grey = Math.round(255 * value);
    image.data.set([grey, grey, grey, 255], 4 * k);
  });
  context.putImageData(image, 0, 0);
}

function showLayer(section, layer, index) {
  const maps = section.querySelector(".maps");
  const limit = largestMagnitude(layer.values);
  if (layer.shape.length === 3) {
    let pictures = maps.querySelectorAll("canvas.map");
    if (pictures.length !== layer.shape[0]) {
      maps.replaceChildren();
      const scale = Math.max(1, Math.floor(MAP_SIDE / Math.max(layer.shape[1], layer.shape[2])));
      for (let channel = 0; channel < layer.shape[0]; channel++) {
        const picture = element("canvas", "map");
        picture.style.width = `${layer.shape[2] * scale}px`;
        picture.style.height = `${layer.shape[1] * scale}px`;
        picture.dataset.layer = index;
        picture.dataset.channel = channel;
        picture.addEventListener("mousemove", hoverMap);
        picture.addEventListener("mouseleave", leaveMap);
        maps.append(picture);
      }
      pictures = maps.querySelectorAll("canvas.map");
    }
    layer.values.forEach((rows, channel) => {
      paintGrid(pictures[channel], rows, limit);
      pictures[channel].values = rows;
    });
  } else {
    const values = layer.values.flat(Infinity);
    let picture = maps.querySelector("canvas");
    if (!picture) {
      picture = element("canvas", values.length > WIDE_VECTOR ? "strip" : "bars");
      maps.append(picture);
    }
    if (values.length > WIDE_VECTOR) {
      const width = 112;
      const rows = [];
      for (let start = 0; start < values.length; start += width) {
        const row = values.slice(start, start + width);
        while (row.length < width) row.push(0);
        rows.push(row);
      }
      paintGrid(picture, rows, limit);
      picture.style.width = `${4 * width}px`;
      picture.style.height = `${4 * rows.length}px`;
    } else {
      paintBars(picture, values, limit);
    }
  }
}

// ---- receptive fields: the window of the input a feature-map pixel saw ----

function hoverMap(event) {
  const picture = event.currentTarget;
  const layer = page.model.layers[Number(picture.dataset.layer)];
  const box = picture.getBoundingClientRect();
  const i = Math.min(picture.height - 1, Math.floor((event.clientY - box.top) * picture.height / box.height));
  const j = Math.min(picture.width - 1, Math.floor((event.clientX - box.left) * picture.width / box.width));
  picture.classList.add("hovered");
  const value = picture.values ? picture.values[i][j] : null;
  let text = `${layer.name}, map ${Number(picture.dataset.channel) + 1}, pixel (${i}, ${j})` +
             (value === null ? "" : ` = ${value.toPrecision(3)}`);
  const field = layer.receptive_field;
  clearField();
  if (field) {
    const top = Math.max(0, field.start[0] + i * field.step[0]);
    const left = Math.max(0, field.start[1] + j * field.step[1]);
    const bottom = Math.min(28, field.start[0] + i * field.step[0] + field.size[0]);
    const right = Math.min(28, field.start[1] + j * field.step[1] + field.size[1]);
    const overlay = document.getElementById("field-canvas").getContext("2d", { willReadFrequently: true });
    const cell = INPUT_VIEW_SIDE / 28;
    overlay.fillStyle = "rgba(255, 200, 0, 0.25)";
    overlay.strokeStyle = "#ffc800";
    overlay.lineWidth = 2;
    overlay.fillRect(left * cell, top * cell, (right - left) * cell, (bottom - top) * cell);
    overlay.strokeRect(left * cell, top * cell, (right - left) * cell, (bottom - top) * cell);
    text += `; it saw input rows ${top}-${bottom - 1}, columns ${left}-${right - 1}`;
  }
  document.getElementById("hover-info").textContent = text;
}

function leaveMap(event) {
  event.currentTarget.classList.remove("hovered");
  clearField();
  document.getElementById("hover-info").textContent = "";
}

function clearField() {
  document.getElementById("field-canvas").getContext("2d", { willReadFrequently: true })
    .clearRect(0, 0, INPUT_VIEW_SIDE, INPUT_VIEW_SIDE);
}

// ---- start ----

pen.lineWidth = STROKE_WIDTH;
pen.lineCap = "round";
pen.lineJoin = "round";
pen.strokeStyle = "#000";
canvas.addEventListener("pointerdown", startStroke);
canvas.addEventListener("pointermove", continueStroke);
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);
document.getElementById("clear-button").addEventListener("click", clearDrawing);

fetch("api/model")
  .then((response) => response.json())
  .then(describe)
  .catch((error) => status(`could not read the model from the server (${error.message})`));
