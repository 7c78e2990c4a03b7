package org.driftml.quickstart;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * The simulated deployment's task family: "give a word" with two checkable constraints (first letter, last letter,
 * number of letters). The gold reward r*(x, y) is the share of constraints the reply meets, and 0 unless the
 * reply is one lowercase word; a program computes it exactly, so methods can be compared on it.
 */
record WordTask(String prompt, List<Constraint> constraints, String answer) {
    /** Common English words of 3 to 7 letters; every task is built from one, so each has an exact answer. */
    static final List<String> LEXICON = List.of("able", "acid", "aged", "bake", "band", "bank", "bark", "base", "beam",
            "bean", "bear", "bell", "bird", "blue", "boat", "bold", "bone", "book", "cake", "calm", "camp", "card",
            "care", "cart", "cave", "coal", "coat", "cold", "cook", "cool", "corn", "dark", "dawn", "deer", "desk",
            "dish", "door", "dove", "drum", "duck", "dust", "earth", "east", "echo", "edge", "fair", "farm", "fern",
            "fire", "fish", "flag", "foam", "fork", "frog", "game", "gate", "gift", "goat", "gold", "grape", "hand",
            "hare", "harp", "hill", "home", "hope", "horn", "idea", "iron", "jade", "jump", "kite", "lake", "lamp",
            "leaf", "lime", "lion", "loaf", "maple", "mask", "milk", "mint", "moon", "moss", "nest", "note", "oak",
            "ocean", "olive", "owl", "page", "palm", "park", "pear", "pine", "pond", "rain", "reed", "ring", "river",
            "road", "rock", "rose", "sail", "salt", "sand", "seed", "ship", "silk", "snow", "song", "star", "stone",
            "sun", "tree", "tide", "wave", "wind", "wolf", "wood", "yard", "zinc", "apple", "bread", "cloud",
            "dream", "field", "glass", "heart", "light", "music", "night", "plant", "smile", "table", "water",
            "garden", "island", "planet", "silver", "winter", "forest", "candle", "bridge", "animal", "button");

    /** One checkable property of a word, the way a user would state it and complain about it. */
    sealed interface Constraint permits StartsWith, EndsWith, Length {
        boolean holds(String word);

        String describe();

        /** What a dissatisfied user says about a word that misses this constraint. */
        String complaint(String word, Random r);
    }

    record StartsWith(char letter) implements Constraint {
        public boolean holds(String w) {
            return !w.isEmpty() && w.charAt(0) == letter;
        }

        public String describe() {
            return "starts with " + letter;
        }

        public String complaint(String w, Random r) {
            return pick(r, "No, it should start with " + letter + ".", "That does not start with " + letter + ".",
                    "Wrong first letter, I need " + letter + ".");
        }
    }

    record EndsWith(char letter) implements Constraint {
        public boolean holds(String w) {
            return !w.isEmpty() && w.charAt(w.length() - 1) == letter;
        }

        public String describe() {
            return "ends with " + letter;
        }

        public String complaint(String w, Random r) {
            return pick(r, "No, it should end with " + letter + ".", "That does not end with " + letter + ".",
                    "Wrong last letter, I need " + letter + ".");
        }
    }

    record Length(int letters) implements Constraint {
        public boolean holds(String w) {
            return w.length() == letters;
        }

        public String describe() {
            return "has " + letters + " letters";
        }

        public String complaint(String w, Random r) {
            return pick(r, "That has " + w.length() + " letters, I asked for " + letters + ".",
                    "No, it needs " + letters + " letters.", "Wrong length, I need " + letters + " letters.");
        }
    }

    /** A task built from a random lexicon word: two of its three properties, in random order. */
    static WordTask sample(Random r) {
        String w = LEXICON.get(r.nextInt(LEXICON.size()));
        List<Constraint> all = new ArrayList<>(List.of(new StartsWith(w.charAt(0)), new EndsWith(w.charAt(w.length() - 1)),
                new Length(w.length())));
        java.util.Collections.shuffle(all, r);
        List<Constraint> c = List.copyOf(all.subList(0, 2));
        String prompt = "Give me a word that " + c.get(0).describe() + " and " + c.get(1).describe() + ".";
        return new WordTask(prompt, c, w);
    }

    /** The reply as the grader reads it: trimmed, lowercased, without a final full stop. */
    static String normalize(String reply) {
        String s = reply.strip().toLowerCase(Locale.ROOT);
        return s.endsWith(".") || s.endsWith("!") ? s.substring(0, s.length() - 1) : s;
    }

    /** r*(x, y): the share of constraints met, 0 unless the reply is a single lowercase word. */
    double reward(String reply) {
        String w = normalize(reply);
        if (!w.matches("[a-z]+")) {
            return 0;
        }
        return constraints.stream().filter(c -> c.holds(w)).count() / (double) constraints.size();
    }

    /** The first constraint the reply misses, or null. */
    Constraint firstMissed(String reply) {
        String w = normalize(reply);
        for (Constraint c : constraints) {
            if (!w.matches("[a-z]+") || !c.holds(w)) {
                return c;
            }
        }
        return null;
    }

    /** Lexicon words meeting exactly the first constraint and not the second: a plausible near miss. */
    List<String> nearMisses() {
        return LEXICON.stream().filter(w -> constraints.get(0).holds(w) && !constraints.get(1).holds(w)).toList();
    }

    static String pick(Random r, String... options) {
        return options[r.nextInt(options.length)];
    }
}
