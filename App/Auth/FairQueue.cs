namespace SessionGate.Auth;

/// <summary>
/// A queue shared fairly along a path of keys (network, sub-network, ..., client): hierarchical round robin. Each
/// level serves its active children in turn, so a child with a thousand waiting items and a child with one are
/// served alternately. When room must be made, the newest item of the heaviest branch goes, never a lighter
/// branch's. Not thread-safe: its owner locks.
/// </summary>
public sealed class FairQueue<T>
{
    private sealed class Node(string key, Node? parent)
    {
        public readonly string Key = key;
        public readonly Node? Parent = parent;
        public readonly Dictionary<string, Node> Children = new(StringComparer.Ordinal);
        public readonly LinkedList<Node> Ring = new();
        public readonly LinkedList<T> Items = new();
        public LinkedListNode<Node>? InRing;
        public int Count;
    }

    private readonly Node _root = new("", null);

    public int Count => _root.Count;

    public void Enqueue(IReadOnlyList<string> path, T item)
    {
        var node = _root;
        foreach (var key in path)
        {
            if (!node.Children.TryGetValue(key, out var child))
            {
                child = new Node(key, node);
                node.Children[key] = child;
            }
            node = child;
        }
        node.Items.AddLast(item);
        for (var n = node; n is not null; n = n.Parent)
        {
            n.Count++;
            if (n.Parent is not null && n.InRing is null) n.InRing = n.Parent.Ring.AddLast(n);
        }
    }

    public bool TryDequeue(out T item)
    {
        item = default!;
        if (_root.Count == 0) return false;
        var node = _root;
        while (node.Ring.First is { } next)
        {
            // Round robin: the child served now goes to the back of its level.
            node.Ring.Remove(next);
            node.Ring.AddLast(next);
            node = next.Value;
        }
        var first = node.Items.First!;
        item = first.Value;
        Detach(node, first);
        return true;
    }

    /// <summary>
    /// Makes room for an item that would join <paramref name="path"/>: at the first level where another branch holds
    /// more than the newcomer's, that branch's newest item (down its heaviest children) is taken out and returned.
    /// False when the newcomer's own branch is the heaviest all the way down: then the newcomer is the one to refuse.
    /// </summary>
    public bool TryEvictForNewcomer(IReadOnlyList<string> path, out T evicted)
    {
        evicted = default!;
        var node = _root;
        foreach (var key in path)
        {
            node.Children.TryGetValue(key, out var mine);
            var own = mine?.Count ?? 0;
            Node? heaviest = null;
            foreach (var child in node.Children.Values)
                if (child != mine && child.Count > own && (heaviest is null || child.Count > heaviest.Count)) heaviest = child;
            if (heaviest is not null)
            {
                while (heaviest.Children.Count > 0) heaviest = heaviest.Children.Values.MaxBy(c => c.Count)!;
                var newest = heaviest.Items.Last!;
                evicted = newest.Value;
                Detach(heaviest, newest);
                return true;
            }
            if (mine is null) return false;
            node = mine;
        }
        return false;
    }

    /// <summary>Takes the newest item of the heaviest branch out (for a newcomer of a class that goes first).</summary>
    public bool TryEvictHeaviest(out T evicted) => TryEvictForNewcomer(NoBranch, out evicted);

    // A key no path uses: every branch is heavier than the newcomer's.
    private static readonly string[] NoBranch = ["\0"];

    private void Detach(Node leaf, LinkedListNode<T> item)
    {
        leaf.Items.Remove(item);
        for (var n = leaf; n is not null; n = n.Parent)
        {
            n.Count--;
            if (n.Count == 0 && n.Parent is { } parent)
            {
                parent.Ring.Remove(n.InRing!);
                n.InRing = null;
                parent.Children.Remove(n.Key);
            }
        }
    }
}
