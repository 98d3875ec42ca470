using System.Text.RegularExpressions;

namespace SessionGate.Tests.Structure;

/// <summary>
/// The folders of App/ form layers, and a folder uses only folders of lower layers (README, "Map of the code"). The
/// test reads the sources: <c>using</c> lines, qualified names (<c>SessionGate.Sessions.X</c> or <c>Sessions.X</c>)
/// and XML-doc references, without comments and string literals.
/// </summary>
public sealed partial class FolderDependencyTests
{
    /// <summary>Lowest first. A folder may use the folders of the layers before its own, never its own layer's or later ones.</summary>
    public static readonly string[][] Layers =
    [
        ["Infrastructure"],            // cross-cutting helpers: problems, client address, request hygiene; knows no feature
        ["Data", "Observability"],     // the DbContext and entities; metrics, tracing and logging
        ["Audit", "Caching"],          // the audit trail; the L1 and the invalidation bus with its message codec
        ["Tokens"],                    // signing keys, JWT minting and validation
        ["Events"],                    // session events out (written in the change's transaction, then delivered)
        ["Sessions"],                  // the session model, the three modes, Redis and what it has proven
        ["Outbox", "Auth"],            // the relay replaying Sessions' changes; login, logout, refresh, the scheme
        ["Mfa", "Gateway", "TokenExchange", "Sample", "Account", "Console"],
        ["Admin", "ForwardAuth"],
        ["Hosting"],                   // the host: start-up work, health, listening report, commands, gauges
        ["(root)"],                    // Program.cs and Extensions.cs: one AddXxx()/MapXxx() per feature
    ];

    [Fact]
    public void Every_folder_is_in_one_layer()
    {
        var folders = Sources().Select(s => s.Folder).Distinct().Order().ToList();
        var layered = Layers.SelectMany(l => l).ToList();
        Assert.Equal(layered.Count, layered.Distinct().Count());
        Assert.Empty(folders.Except(layered));
        Assert.Empty(layered.Except(folders));
    }

    [Fact]
    public void Folders_use_only_lower_layers()
    {
        var sources = Sources();
        var folderOf = new Dictionary<string, string>();
        foreach (var s in sources)
            if (NamespaceDeclaration().Match(s.Text) is { Success: true } m) folderOf[m.Groups[1].Value] = s.Folder;
        var layerOf = Layers.SelectMany((l, i) => l.Select(f => (f, i))).ToDictionary(x => x.f, x => x.i);

        var wrong = new List<string>();
        foreach (var s in sources)
        {
            var code = StringLiteral().Replace(LineComment().Replace(s.Text, ""), "\"\"");
            foreach (var (ns, folder) in folderOf)
            {
                if (folder == s.Folder) continue;
                var used = Regex.IsMatch(code, $@"\bSessionGate\.{ns}\b") || Regex.IsMatch(code, $@"(?<![\w.]){ns}\.[A-Z]\w*");
                if (used && layerOf[folder] >= layerOf[s.Folder]) wrong.Add($"{s.Path} uses {folder}");
            }
        }
        Assert.True(wrong.Count == 0, "a folder uses one of its own layer or above:\n" + string.Join('\n', wrong));
    }

    [Fact]
    public void No_App_file_is_over_300_lines()
    {
        var long_ = Sources().Select(s => (s.Path, Lines: s.Text.Split('\n').Length)).Where(f => f.Lines > 301).ToList();
        Assert.True(long_.Count == 0, string.Join('\n', long_.Select(f => $"{f.Path}: {f.Lines} lines")));
    }

    private sealed record Source(string Path, string Folder, string Text);

    private static List<Source> Sources()
    {
        var app = Path.Combine(RepositoryRoot(), "App");
        return Directory.EnumerateFiles(app, "*.cs", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(app, p).Replace('\\', '/'))
            .Where(p => !p.StartsWith("bin/", StringComparison.Ordinal) && !p.StartsWith("obj/", StringComparison.Ordinal))
            .Select(p => new Source(p, p.Contains('/') ? p[..p.IndexOf('/')] : "(root)", File.ReadAllText(Path.Combine(app, p))))
            .ToList();
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "App.sln"))) return dir.FullName;
        throw new InvalidOperationException("App.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^namespace SessionGate\.(\w+)", RegexOptions.Multiline)]
    private static partial Regex NamespaceDeclaration();

    // `//` comments (not `///` docs: their crefs are real references).
    [GeneratedRegex(@"(?<![/:])//(?!/).*$", RegexOptions.Multiline)]
    private static partial Regex LineComment();

    [GeneratedRegex(@"""(?:[^""\\\n]|\\.)*""")]
    private static partial Regex StringLiteral();
}
