using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SessionGate.Bench.FaultRig;

/// <summary>Answers by status: 2xx, the statuses the rig watches, anything else, and no answer at all (status 0).</summary>
public sealed class Counts
{
    public long Total { get; set; }
    public long S2xx { get; set; }
    public long S200 { get; set; }
    public long S401 { get; set; }
    public long S403 { get; set; }
    public long S429 { get; set; }
    public long S500 { get; set; }
    public long S502 { get; set; }
    public long S503 { get; set; }
    public long Other { get; set; }
    public long NoAnswer { get; set; }

    public void Add(int status)
    {
        Total++;
        switch (status)
        {
            case 0: NoAnswer++; break;
            case 200: S200++; S2xx++; break;
            case >= 200 and < 300: S2xx++; break;
            case 401: S401++; break;
            case 403: S403++; break;
            case 429: S429++; break;
            case 500: S500++; break;
            case 502: S502++; break;
            case 503: S503++; break;
            default: Other++; break;
        }
    }

    public static Counts Of(IEnumerable<Rec> records)
    {
        var c = new Counts();
        foreach (var r in records) c.Add(r.Status);
        return c;
    }
}

public sealed class Check
{
    public string Name { get; set; } = "";
    public bool Ok { get; set; }
    public string Value { get; set; } = "";
}

/// <summary>One row of the report: a mode and a scenario (or one part of one).</summary>
public sealed class ScenarioResult
{
    public string Mode { get; set; } = "";
    public string Scenario { get; set; } = "";
    public Counts Load { get; set; } = new();
    public Counts Ops { get; set; } = new();
    public string Timings { get; set; } = "";
    public List<Check> Checks { get; set; } = [];
    public List<string> Notes { get; set; } = [];
    public string? Error { get; set; }

    public void Check(string name, bool ok, string value)
    {
        Checks.Add(new Check { Name = name, Ok = ok, Value = value });
        Rig.Log($"{(ok ? "PASS" : "FAIL")} {name}: {value}");
    }

    public void Note(string text)
    {
        Notes.Add(text);
        Rig.Log("note: " + text);
    }

    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
}

/// <summary>Renders the rows the scenarios wrote as markdown.</summary>
public static class Report
{
    public static string Render(IReadOnlyList<ScenarioResult> rows, string header)
    {
        var md = new StringBuilder();
        md.AppendLine(header);
        md.AppendLine();
        md.AppendLine("### Steady load (authenticated GET /api/profile on instances A and B) and recovery");
        md.AppendLine();
        md.AppendLine("| mode | scenario | requests | 200 | 401 | 403 | 429 | 500 | 502 | 503 | other | no answer | timings |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var r in rows)
        {
            var c = r.Load;
            md.AppendLine($"| {r.Mode} | {r.Scenario} | {c.Total} | {c.S200} | {c.S401} | {c.S403} | {c.S429} | {c.S500} | {c.S502} | {c.S503} | {c.Other + (c.S2xx - c.S200)} | {c.NoAnswer} | {Cell(r.Error is null ? r.Timings : "RIG ERROR: " + r.Error)} |");
        }
        md.AppendLine();
        md.AppendLine("### Every other request the scenario made (logins, refresh, logout, admin calls, probes of revoked and live credentials)");
        md.AppendLine();
        md.AppendLine("| mode | scenario | requests | 2xx | 401 | 403 | 429 | 500 | 502 | 503 | other | no answer |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            var c = r.Ops;
            md.AppendLine($"| {r.Mode} | {r.Scenario} | {c.Total} | {c.S2xx} | {c.S401} | {c.S403} | {c.S429} | {c.S500} | {c.S502} | {c.S503} | {c.Other} | {c.NoAnswer} |");
        }
        md.AppendLine();
        md.AppendLine("### Checks");
        md.AppendLine();
        md.AppendLine("| mode | scenario | check | result | value |");
        md.AppendLine("|---|---|---|---|---|");
        foreach (var r in rows)
        {
            if (r.Error is not null) md.AppendLine($"| {r.Mode} | {r.Scenario} | the scenario ran to its end | **FAIL** | {Cell(r.Error)} |");
            foreach (var k in r.Checks) md.AppendLine($"| {r.Mode} | {r.Scenario} | {Cell(k.Name)} | {(k.Ok ? "pass" : "**FAIL**")} | {Cell(k.Value)} |");
        }
        var notes = rows.Where(r => r.Notes.Count > 0).ToList();
        if (notes.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("### Notes");
            md.AppendLine();
            foreach (var r in notes)
            {
                foreach (var n in r.Notes) md.AppendLine($"- {r.Mode} / {r.Scenario}: {n}");
            }
        }
        var total = rows.Sum(r => r.Checks.Count + (r.Error is null ? 0 : 1));
        var failed = rows.Sum(r => r.Checks.Count(k => !k.Ok) + (r.Error is null ? 0 : 1));
        md.AppendLine();
        md.AppendLine($"checks: {total - failed} passed, {failed} failed");
        return md.ToString();
    }

    private static string Cell(string s) => s.Replace("|", "\\|").Replace("\n", " ");

    /// <summary>The row files of a run, in the order they were written (their names start with a sequence number).</summary>
    public static List<ScenarioResult> Load(string dir) =>
        Directory.GetFiles(dir, "*.json").Order(StringComparer.Ordinal)
            .Select(f => JsonSerializer.Deserialize<ScenarioResult>(File.ReadAllText(f), ScenarioResult.Json)!).ToList();
}
