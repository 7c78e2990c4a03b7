package org.driftml.model.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.StepScope;
import org.driftml.model.spec.LoraConfig;
import org.driftml.model.spec.ModelConfig;
import org.driftml.output.OutputFolder;

/**
 * LoRA adapters on a {@link Decoder}'s linear layers, in PEFT's format: a folder with {@code adapter_config.json}
 * and {@code adapter_model.safetensors}, whose tensors are named {@code base_model.model.<module>.lora_A.weight}
 * ([r, in]) and {@code ...lora_B.weight} ([out, r]), what {@code PeftModel.from_pretrained} reads and
 * {@code save_pretrained} writes.
 *
 * <p>The adapters are held in fp32 when the base is bf16 or fp16, as PEFT keeps them ({@code autocast_adapter_dtype}),
 * and a layer's output is {@code W x + s * B(A(x))} computed in the base's dtype, as under TRL's bf16 autocast
 * (which casts the adapters for its linear ops). PEFT outside autocast computes the adapter's path in fp32 instead;
 * done that way here, the casts of every [N, T, out] output made a LoRA step on all linear layers slower than full
 * fine-tuning at Qwen2.5-0.5B's geometry (README, "LoRA against full fine-tuning"). In fp32 the two are the same.
 */
public final class LoraAdapters implements AutoCloseable {
    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    private static final String PREFIX = "base_model.model.";

    private final LoraConfig config;
    private final Map<String, Tensor> a;  // by module path (model.layers.0.self_attn.q_proj): [r, in]
    private final Map<String, Tensor> b;  // [out, r]
    private final double scaling;
    private boolean enabled = true;
    private boolean training;

    private LoraAdapters(LoraConfig config, Map<String, Tensor> a, Map<String, Tensor> b) {
        this.config = config;
        this.a = Collections.unmodifiableMap(a);
        this.b = Collections.unmodifiableMap(b);
        this.scaling = config.scaling();
    }

    /**
     * Fresh adapters as PEFT initialises them: A Kaiming-uniform with a = sqrt(5) (uniform in +-1/sqrt(in)), B zero,
     * so the adapted model starts equal to the base. A is drawn from a CPU generator seeded {@code seed}.
     */
    public static LoraAdapters create(Decoder base, LoraConfig config, long seed) {
        ScalarType dtype = adapterDtype(base);
        Map<String, Tensor> a = new LinkedHashMap<>(), b = new LinkedHashMap<>();
        Generator g = torch.createCPUGenerator(seed);
        NoGradGuard noGrad = new NoGradGuard();
        try (StepScope scope = StepScope.open()) {
            for (String module : targetedModules(base.config(), config)) {
                Tensor w = base.weights().get(module + ".weight");
                long out = w.size(0), in = w.size(1);
                double bound = 1.0 / Math.sqrt(in);
                Tensor u = torch.rand(new long[] {config.rank(), in}, new GeneratorOptional(g),
                        new TensorOptions(ScalarType.Float));
                a.put(module, scope.keep(u.mul(new Scalar(2 * bound)).sub(new Scalar(bound))
                        .to(base.device(), dtype).requires_grad_(true)));
                b.put(module, scope.keep(torch.zeros(new long[] {out, config.rank()},
                        Tensorsj.options(dtype, base.device())).requires_grad_(true)));
            }
        } finally {
            noGrad.close();
        }
        return new LoraAdapters(config, a, b);
    }

    /**
     * Reads a PEFT LoRA adapter folder for {@code base}. Refused, naming the file and field or tensor: another PEFT
     * type, settings drift does not compute (DoRA, QA-LoRA, per-layer rank or alpha patterns, biases, fan_in_fan_out,
     * layers to transform or replicate, modules to save, target parameters, trainable tokens), a target module that is not one of the decoder's linear layers, a tensor for a
     * module the base lacks, and a shape that does not fit the base's weight (both shapes named).
     */
    public static LoraAdapters load(Path folder, Decoder base) throws IOException {
        Path configFile = folder.resolve(CONFIG_FILE), weightsFile = folder.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(configFile)) {
            throw new IllegalArgumentException(folder + ": no " + CONFIG_FILE + " (is this a PEFT adapter folder?)");
        }
        if (!Files.isRegularFile(weightsFile)) {
            throw new IllegalArgumentException(folder + ": no " + WEIGHTS_FILE);
        }
        JsonNode c;
        try {
            c = new ObjectMapper().readTree(configFile.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(configFile + ": not valid JSON: " + e.getOriginalMessage());
        }
        if (c == null || !c.isObject()) {
            throw new IllegalArgumentException(configFile + ": must hold a JSON object");
        }
        PeftFields f = new PeftFields(c, configFile);
        f.require("peft_type", "LORA");
        // An adapter for another head (SEQ_CLS: a classifier's) would be applied to this causal LM without a word.
        if (c.hasNonNull("task_type") && !c.get("task_type").asText().equals("CAUSAL_LM")) {
            throw f.error("task_type", "'" + c.get("task_type").asText() + "' is an adapter for another kind of model; "
                    + "drift applies CAUSAL_LM adapters to causal language models");
        }
        f.refuseTrue("use_dora", "DoRA");
        f.refuseTrue("fan_in_fan_out", "fan_in_fan_out (Conv1D-style weights)");
        f.refuseNonEmpty("rank_pattern");
        f.refuseNonEmpty("alpha_pattern");
        f.refuseNonEmpty("layers_to_transform");
        f.refuseNonEmpty("modules_to_save");
        f.refuseNonEmpty("layer_replication");
        f.refuseNonEmpty("target_parameters");
        f.refuseNonEmpty("trainable_token_indices");
        f.refuseTrue("lora_bias", "lora_bias (a bias on lora_B)");
        f.refuseTrue("use_qalora", "QA-LoRA");
        if (c.hasNonNull("bias") && !c.get("bias").asText().equals("none")) {
            throw f.error("bias", "'" + c.get("bias").asText() + "' is not supported (only 'none')");
        }
        int rank = f.positiveInt("r");
        double alpha = c.hasNonNull("lora_alpha") ? c.get("lora_alpha").asDouble() : 8.0;  // PEFT's default
        double dropout = c.hasNonNull("lora_dropout") ? c.get("lora_dropout").asDouble() : 0.0;
        boolean rslora = c.path("use_rslora").asBoolean(false);

        SafetensorsFile file = SafetensorsFile.open(weightsFile);
        Map<String, long[]> baseTensors = base.config().expectedTensors();
        Set<String> modules = new LinkedHashSet<>();
        for (String key : file.tensors().keySet()) {
            String module = moduleOf(key);
            if (module == null || !baseTensors.containsKey(module + ".weight")
                    || !LoraConfig.LINEAR_MODULES.contains(lastPart(module))) {
                throw new IllegalArgumentException(weightsFile + ": tensor " + key + " is not a LoRA weight of one of"
                        + " the base model's linear layers (" + String.join(", ", LoraConfig.LINEAR_MODULES) + ")");
            }
            modules.add(module);
        }
        if (modules.isEmpty()) {
            throw new IllegalArgumentException(weightsFile + ": holds no LoRA weights");
        }
        List<String> targets = declaredTargets(c, f, modules, base.config().numHiddenLayers());
        LoraConfig config;
        try {
            config = new LoraConfig(rank, alpha, dropout, targets, rslora);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(configFile + ": " + e.getMessage());
        }
        ScalarType dtype = adapterDtype(base);
        Map<String, Tensor> a = new LinkedHashMap<>(), b = new LinkedHashMap<>();
        try (StepScope scope = StepScope.open()) {
            for (String module : modules) {
                long[] w = baseTensors.get(module + ".weight");
                Tensor ta = read(file, PREFIX + module + ".lora_A.weight", new long[] {rank, w[1]});
                Tensor tb = read(file, PREFIX + module + ".lora_B.weight", new long[] {w[0], rank});
                // Copies: the file's tensors may be its mapped pages, and training updates these in place.
                a.put(module, scope.keep(ta.to(base.device(), dtype, false, true, new MemoryFormatOptional())
                        .requires_grad_(true)));
                b.put(module, scope.keep(tb.to(base.device(), dtype, false, true, new MemoryFormatOptional())
                        .requires_grad_(true)));
            }
        }
        return new LoraAdapters(config, a, b);
    }

    /**
     * Writes the adapters as PEFT does ({@code adapter_config.json}, {@code adapter_model.safetensors}), atomically
     * per file; {@code baseModel} goes into {@code base_model_name_or_path}.
     */
    public void save(Path folder, String baseModel) throws IOException {
        Files.createDirectories(folder);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try (StepScope scope = StepScope.open()) {
            for (String module : a.keySet()) {
                tensors.put(PREFIX + module + ".lora_A.weight", a.get(module).detach());
                tensors.put(PREFIX + module + ".lora_B.weight", b.get(module).detach());
            }
            SafetensorsWriter.write(folder.resolve(WEIGHTS_FILE), tensors, Map.of("format", "pt"));
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = json.createObjectNode();
        c.put("peft_type", "LORA");
        c.put("task_type", "CAUSAL_LM");
        c.put("base_model_name_or_path", baseModel);
        c.put("r", config.rank());
        if (config.alpha() == Math.rint(config.alpha()) && Math.abs(config.alpha()) <= Integer.MAX_VALUE) {
            c.put("lora_alpha", (int) config.alpha());  // PEFT's field is an int
        } else {
            c.put("lora_alpha", config.alpha());
        }
        c.put("lora_dropout", config.dropout());
        c.putArray("target_modules").addAll(config.targetModules().stream().map(json.getNodeFactory()::textNode)
                .toList());
        c.put("use_rslora", config.useRslora());
        c.put("bias", "none");
        c.put("fan_in_fan_out", false);
        c.put("init_lora_weights", true);
        c.put("use_dora", false);
        c.put("lora_bias", false);
        c.put("inference_mode", true);
        c.putNull("modules_to_save");
        c.putNull("layers_to_transform");
        c.putObject("rank_pattern");
        c.putObject("alpha_pattern");
        OutputFolder.writeAtomically(folder.resolve(CONFIG_FILE),
                json.writerWithDefaultPrettyPrinter().writeValueAsString(c) + "\n");
    }

    public LoraConfig config() {
        return config;
    }

    /** The trainable tensors by PEFT's names ({@code base_model.model.<module>.lora_A.weight}, ...). */
    public Map<String, Tensor> weights() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String module : a.keySet()) {
            out.put(PREFIX + module + ".lora_A.weight", a.get(module));
            out.put(PREFIX + module + ".lora_B.weight", b.get(module));
        }
        return Collections.unmodifiableMap(out);
    }

    /**
     * {@code base}'s weights with the adapters merged in, as PEFT's {@code merge_and_unload}: {@code W + s B A}
     * computed in fp32 and rounded to W's dtype once. Each merged weight is made when read (one at a time, in the
     * reader's scope), so a save never holds a second copy of the model.
     */
    public Map<String, Tensor> merged(Decoder base) {
        Map<String, java.util.function.Supplier<Tensor>> out = new LinkedHashMap<>();
        base.weights().forEach((name, w) -> {
            String module = name.endsWith(".weight") ? name.substring(0, name.length() - ".weight".length()) : null;
            Tensor ta = module == null ? null : a.get(module);
            if (ta == null) {
                out.put(name, () -> w);
            } else {
                Tensor tb = b.get(module);
                out.put(name, () -> {
                    NoGradGuard noGrad = new NoGradGuard();
                    try {
                        Tensor delta = tb.detach().to(ScalarType.Float).matmul(ta.detach().to(ScalarType.Float))
                                .mul(new Scalar(scaling));
                        return w.detach().to(ScalarType.Float).add(delta).to(w.scalar_type());
                    } finally {
                        noGrad.close();
                    }
                });
            }
        });
        return new MadeWhenRead(out);
    }

    /** Whether the adapters take part in the forward; off, the decoder computes its base model exactly. */
    public boolean enabled() {
        return enabled;
    }

    public void enabled(boolean on) {
        this.enabled = on;
    }

    /**
     * In training the adapters' input goes through dropout (PEFT's {@code lora_dropout}, inverted: kept values are
     * scaled by 1 / (1 - p)); out of it, never. Trainers turn it on for the policy's forward and backward only.
     */
    public void training(boolean on) {
        this.training = on;
    }

    /** Whether a forward now draws dropout masks (training, enabled, a dropout above zero). */
    public boolean dropsOut() {
        return training && enabled && config.dropout() > 0;
    }

    /** {@code y} (the base layer's output for {@code x}) with this module's adapter added, as PEFT adds it. */
    Tensor adapt(String module, Tensor x, Tensor y) {
        Tensor ta = enabled ? a.get(module) : null;
        if (ta == null) {
            return y;
        }
        Tensor tb = b.get(module);
        if (ta.scalar_type().value != y.scalar_type().value) {  // autocast's cast, differentiable back to fp32
            ta = ta.to(y.scalar_type());
            tb = tb.to(y.scalar_type());
        }
        Tensor in = dropsOut() ? torch.dropout(x, config.dropout(), true) : x;
        // The scaling on the r-wide intermediate, and B's GEMM accumulated into the base output in place (one
        // rounding): h B^T made on its own then added took 6.1 ms for [512, 16] x [16, 4864] in bf16, addmm_ into y
        // 0.85 ms, against 10 ms for the base GEMM itself.
        Tensor h = in.matmul(ta.t());
        if (scaling != 1.0) {
            h = h.mul(new Scalar(scaling));
        }
        y.view(-1, y.size(-1)).addmm_(h.reshape(-1, h.size(-1)), tb.t());
        return y;
    }

    @Override
    public void close() {
        a.values().forEach(Tensor::close);
        b.values().forEach(Tensor::close);
    }

    /** fp32 over a bf16 or fp16 base (PEFT's autocast_adapter_dtype), else the base's dtype. */
    private static ScalarType adapterDtype(Decoder base) {
        ScalarType d = base.weights().get("model.embed_tokens.weight").scalar_type();
        return d.value == ScalarType.BFloat16.value || d.value == ScalarType.Half.value ? ScalarType.Float : d;
    }

    /** The module paths of every targeted linear layer, layer by layer. */
    private static List<String> targetedModules(ModelConfig model, LoraConfig config) {
        List<String> out = new ArrayList<>();
        for (String name : model.expectedTensors().keySet()) {
            if (name.endsWith(".weight") && name.startsWith("model.layers.")) {
                String module = name.substring(0, name.length() - ".weight".length());
                if (config.targets(lastPart(module))) {
                    out.add(module);
                }
            }
        }
        return out;
    }

    /** The target modules adapter_config.json declares, checked against the tensors the file holds. */
    private static List<String> declaredTargets(JsonNode c, PeftFields f, Set<String> modules, int layers) {
        List<String> present = modules.stream().map(LoraAdapters::lastPart).distinct().toList();
        JsonNode t = c.get("target_modules");
        if (t != null && t.isArray()) {
            // Names or module paths (PEFT writes all-linear out as paths): a module matches by its last part.
            List<String> declared = new ArrayList<>();
            t.forEach(n -> declared.add(lastPart(n.asText())));
            List<String> unknown = declared.stream().filter(n -> !LoraConfig.LINEAR_MODULES.contains(n)).distinct()
                    .toList();
            if (!unknown.isEmpty()) {
                throw f.error("target_modules", "unknown module " + String.join(", ", unknown) + "; the model's"
                        + " linear layers are " + String.join(", ", LoraConfig.LINEAR_MODULES));
            }
            return declared.stream().distinct().toList();
        }
        // A regex or "all-linear": the tensors say which modules were adapted, and drift adapts a module name in every
        // layer, so a regex that picked some layers only is refused rather than half applied.
        for (String name : present) {
            long adapted = modules.stream().filter(m -> lastPart(m).equals(name)).count();
            if (adapted != layers) {
                throw f.error("target_modules", "'" + (t == null ? "" : t.asText()) + "' adapts " + name + " in "
                        + adapted + " of the " + layers + " layers; drift adapts a module in every layer (name the modules instead)");
            }
        }
        return present;
    }

    private static Tensor read(SafetensorsFile file, String key, long[] shape) throws IOException {
        SafetensorsFile.TensorInfo info = file.tensors().get(key);
        if (info == null) {
            throw new IllegalArgumentException(file.path() + ": no tensor " + key);
        }
        if (!java.util.Arrays.equals(info.shape(), shape)) {
            throw new IllegalArgumentException(file.path() + ": tensor " + key + " has shape "
                    + java.util.Arrays.toString(info.shape()) + ", the base model needs "
                    + java.util.Arrays.toString(shape));
        }
        return file.read(key);
    }

    /** model.layers.0.self_attn.q_proj from base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight. */
    private static String moduleOf(String key) {
        for (String end : new String[] {".lora_A.weight", ".lora_B.weight"}) {
            if (key.startsWith(PREFIX) && key.endsWith(end)) {
                return key.substring(PREFIX.length(), key.length() - end.length());
            }
        }
        return null;
    }

    private static String lastPart(String module) {
        return module.substring(module.lastIndexOf('.') + 1);
    }

    /** adapter_config.json's fields, with errors that name the file and the field. */
    private record PeftFields(JsonNode c, Path file) {
        IllegalArgumentException error(String field, String what) {
            return new IllegalArgumentException(file + ": " + field + ": " + what);
        }

        void require(String field, String value) {
            if (!c.path(field).asText("").equals(value)) {
                throw error(field, "'" + c.path(field).asText("") + "' is not supported (only " + value + ")");
            }
        }

        void refuseTrue(String field, String what) {
            if (c.path(field).asBoolean(false)) {
                throw error(field, what + " is not supported");
            }
        }

        void refuseNonEmpty(String field) {
            JsonNode n = c.get(field);
            if (n != null && !n.isNull() && !(n.isContainerNode() && n.isEmpty())) {
                throw error(field, "is not supported (must be empty or null), got " + n);
            }
        }

        int positiveInt(String field) {
            JsonNode n = c.get(field);
            if (n == null || !n.canConvertToInt() || !n.isIntegralNumber() || n.asInt() < 1) {
                throw error(field, "must be a positive integer, got " + n);
            }
            return n.asInt();
        }
    }
}
