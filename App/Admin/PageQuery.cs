using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Mvc;

namespace SessionGate.Admin;

/// <summary>
/// <c>?page=&amp;size=</c> of every paged /admin list, bound as one <c>[AsParameters]</c> parameter. The ranges are
/// for the document; <see cref="Validate"/> checks them (a 400 naming the field).
/// </summary>
public readonly record struct PageQuery(
    [property: FromQuery(Name = "page"), Range(1, 100_000), Description("Page number, from 1 (default 1).")] int? Page,
    [property: FromQuery(Name = "size"), Range(1, 100), Description("Items per page, from 1 to 100 (default 20).")] int? Size)
{
    /// <summary>The 400 a size out of range answers, as the document shows it.</summary>
    public const string SizeProblem = "size must be between 1 and 100.";

    /// <summary>The page and size (defaults 1 and 20), or the 400 when either is out of range.</summary>
    public ProblemHttpResult? Validate(out int page, out int size)
    {
        page = Page ?? 1;
        size = Size ?? 20;
        if (page < 1 || page > 100_000) return Problems.ValidationFailed("page must be between 1 and 100000.", "page");
        if (size < 1 || size > 100) return Problems.ValidationFailed(SizeProblem, "size");
        return null;
    }
}
