package org.driftml.drift;

import java.util.List;
import java.util.function.Function;

/** What every method over a fixed list of logged items shares: the items, their order and their stable ids. */
abstract class ItemPairs<T> implements PairMethod {
    protected final List<T> items;
    private final Function<T, String> id;

    ItemPairs(List<T> items, Function<T, String> id) {
        this.items = List.copyOf(items);
        this.id = id;
    }

    @Override
    public int size() {
        return items.size();
    }

    @Override
    public String id(int i) {
        return id.apply(items.get(i));
    }
}
