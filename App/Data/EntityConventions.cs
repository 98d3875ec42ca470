using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace SessionGate.Data;

/// <summary>
/// What the entity configurations share (how a table is keyed by a natural key, how a queue table is numbered and
/// indexed, how rows go with their owner, how a partial index is filtered), written once, so that each configuration
/// says only what is its own table's.
/// </summary>
internal static class EntityConventions
{
    /// <summary>
    /// Keyed by a value the row already has (a kid, a jti, a client id, a name) rather than a generated id, of at most
    /// <paramref name="maxLength"/> characters.
    /// </summary>
    public static EntityTypeBuilder<T> HasNaturalKey<T>(this EntityTypeBuilder<T> b, Expression<Func<T, string>> key, int maxLength)
        where T : class
    {
        var property = b.Property(key).HasMaxLength(maxLength);
        b.HasKey(property.Metadata.Name);
        return b;
    }

    /// <summary>
    /// A queue kept in a table, written in the transaction of the change it carries. PostgreSQL numbers its rows in the
    /// order they are written (<c>GENERATED ALWAYS AS IDENTITY</c>); the consumer reads those not yet handled
    /// (<paramref name="handledAt"/> still null) in that order, through the partial index <paramref name="pendingIndex"/>
    /// on the id, and the clean-up deletes by <paramref name="age"/>.
    /// </summary>
    public static EntityTypeBuilder<T> IsQueue<T>(this EntityTypeBuilder<T> b, Expression<Func<T, long>> id, string pendingIndex,
        string handledAt, Expression<Func<T, object?>> age) where T : class
    {
        var key = b.Property(id).UseIdentityAlwaysColumn().Metadata.Name;
        b.HasIndex(new[] { key }, pendingIndex).WhereNull(handledAt);
        b.HasIndex(age);
        return b;
    }

    /// <summary>Many rows to one <typeparamref name="TOwner"/>, through <paramref name="foreignKey"/>: deleting the owner deletes them.</summary>
    public static ReferenceCollectionBuilder<TOwner, T> WithManyCascading<T, TOwner>(this ReferenceNavigationBuilder<T, TOwner> owner,
        Expression<Func<T, object?>> foreignKey) where T : class where TOwner : class =>
        owner.WithMany().HasForeignKey(foreignKey).OnDelete(DeleteBehavior.Cascade);

    /// <summary>A partial index over the rows whose <paramref name="column"/> is null (a live session, a row not yet handled).</summary>
    public static IndexBuilder<T> WhereNull<T>(this IndexBuilder<T> index, string column) =>
        index.HasFilter($"\"{column}\" IS NULL");

    /// <summary>A partial index over the rows whose <paramref name="column"/> is set (a session that ended, a row set aside).</summary>
    public static IndexBuilder<T> WhereNotNull<T>(this IndexBuilder<T> index, string column) =>
        index.HasFilter($"\"{column}\" IS NOT NULL");
}
