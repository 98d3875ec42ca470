namespace SessionGate.Auth;

/// <summary>The one check of a new password, for every endpoint that sets one: too long is bad input, too weak is weak-password.</summary>
public static class PasswordProblems
{
    public static ProblemHttpResult? Check(string password, string? username, string field = "password")
    {
        if (password.Length > Limits.MaxPassword) return Problems.ValidationFailed($"{field} is too long.", field);
        return PasswordPolicy.Weakness(password, username) is { } weakness
            ? Problems.Result(StatusCodes.Status400BadRequest, Problems.WeakPassword, weakness, new Dictionary<string, object?> { ["field"] = field })
            : null;
    }
}
