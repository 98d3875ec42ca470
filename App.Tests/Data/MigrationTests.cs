using Microsoft.EntityFrameworkCore;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Data;

public sealed class MigrationTests
{
    [Fact]
    public async Task Every_model_change_is_captured_by_a_migration()
    {
        var name = await TestDatabase.CreateAsync();
        try
        {
            await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(name));
            Assert.False(db.Database.HasPendingModelChanges(), "The model has changes no migration captures: add one with dotnet ef (see README).");
            Assert.Empty(await db.Database.GetPendingMigrationsAsync());
        }
        finally
        {
            await TestDatabase.DropAsync(name);
        }
    }
}
